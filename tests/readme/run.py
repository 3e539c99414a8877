#!/usr/bin/env python3
"""Runs the README's walk-through, block by block, and checks what it prints.

    python3 tests/readme/run.py --bin target/release/sluice [--keep] [--verbose]
        [--timeout SECONDS] README.md

--verbose prints every block's output (to write an output block), --keep keeps the
temporary directory, --timeout is the time one block may take (60 s by default).

Conventions (they are the README's contract; keep them small):

- Every fenced block whose info string is `sh` or `python` is run, in README order.
  `sh` blocks run in one bash session, so the variables and background jobs of one
  block are there for the next, as in one terminal. A `python` block runs as
  `python3 FILE` in that session (so it sees the exported variables).
- `sh no-run` (or `python no-run`) marks a block that is shown, not run: building with
  cargo, Docker. Keep them rare.
- A fenced block with the info string `output` right after a run block (only prose
  between them) is what that block prints: its stdout and stderr merged, as a terminal
  shows them. Lines are compared whole, blank lines ignored and runs of spaces or tabs
  taken as one space. `...` inside a line matches any text (ids, timestamps, sequence
  numbers); a line that is only `...` matches any number of lines. A run block without
  an `output` block must print nothing.
- A block fails when it exits non-zero (its last command's status), prints something
  else than its `output` block, or runs past --timeout seconds.

How the walk-through is run:

- In a fresh temporary directory (the walk-through's working directory), removed at the
  end unless --keep. Nothing is written anywhere else.
- `sluice` is --bin: a directory holding a `sluice` link to it comes first on PATH, and
  `cargo run --release --` / `cargo run --release` in a run block become `sluice`.
- Ports: every port the run blocks name as `127.0.0.1:N`, `localhost:N` or `--port N`
  (and 8000, the default) is replaced, in every run and output block, by a free port
  chosen at start, so the runner never collides with another test; SLUICE_SERVER_LISTEN
  points a daemon started without --port/--listen at 8000's replacement.
- The environment is the caller's without any AWS_* or SLUICE_* variable, and with
  AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE pointing at missing files, so only
  what the README exports counts.
- Everything the blocks start (the bash session, daemons started with `&`, their
  children) is one process group, ended at the end (SIGTERM, then SIGKILL).

Exit status: 0 when every block passed; 1 when one failed (the block, its output and the
expected output are printed, with the tail of every *.log file of the working directory);
2 for a usage error or a README that breaks the conventions; 3 when a prerequisite (bash,
curl, the AWS CLI, boto3, awslambdaric) is missing.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

RUN_LANGS = {"sh": "sh", "python": "python"}
# (pattern, what comes between group 1 and the port when it is written back)
PORT_PATTERNS = [
    (re.compile(r"(?<![\w.])(127\.0\.0\.1|localhost):(\d{2,5})\b"), ":"),
    (re.compile(r"(--port[ =])(\d{2,5})\b"), ""),
]
DEFAULT_PORT = "8000"


class ReadmeError(Exception):
    """The README breaks the conventions above."""


class Block:
    def __init__(self, lang, text, line, run):
        self.lang = lang
        self.text = text
        self.line = line  # 1-based line of the opening fence
        self.run = run
        self.expected = None  # the `output` block's text, if any
        self.expected_line = None


def parse(readme_text):
    """The fenced blocks of the README: run blocks with their expected outputs attached,
    and the count of blocks marked no-run."""
    blocks, skipped = [], []
    lines = readme_text.split("\n")
    i = 0
    last_run = None  # the run block an `output` block may still belong to
    while i < len(lines):
        m = re.match(r"^( {0,3})(```+)(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).strip()
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^ {0,3}" + fence + r"\s*$", lines[i]):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        if i == len(lines):
            raise ReadmeError(f"line {start}: the block opened here is never closed")
        i += 1
        text = "\n".join(body) + "\n"
        words = info.split()
        lang = words[0] if words else ""
        if lang == "output":
            if last_run is None:
                raise ReadmeError(
                    f"line {start}: an output block must follow a run block (sh or python)"
                )
            last_run.expected, last_run.expected_line = text, start
            last_run = None
            continue
        if lang in RUN_LANGS:
            extra = words[1:]
            if extra not in ([], ["no-run"]):
                raise ReadmeError(f"line {start}: unknown fence attributes {extra}")
            block = Block(RUN_LANGS[lang], text, start, run=not extra)
            (blocks if block.run else skipped).append(block)
            last_run = block
        else:
            last_run = None
    return blocks, skipped


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def port_map(blocks):
    ports = {DEFAULT_PORT}
    for b in blocks:
        for pattern, _ in PORT_PATTERNS:
            ports.update(m.group(2) for m in pattern.finditer(b.text))
    chosen = {}
    for p in sorted(ports):
        while True:
            q = free_port()
            if q not in chosen.values() and q not in ports:
                chosen[p] = q
                break
    return chosen


def rewrite(text, ports):
    for pattern, sep in PORT_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + sep + ports.get(m.group(2), m.group(2)), text)
    return text


def rewrite_command(text):
    text = re.sub(r"\bcargo run --release --(?=\s)", "sluice", text)
    return re.sub(r"\bcargo run --release\b", "sluice", text)


def normalize(text):
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = " ".join(line.split())
        if line:
            out.append(line)
    return out


def line_matches(pattern, line):
    parts = pattern.split("...")
    regex = ".*".join(re.escape(p) for p in parts)
    return re.fullmatch(regex, line, flags=re.DOTALL) is not None


def match(expected, actual):
    """None when `actual` (lines) fits `expected` (lines); else the index of the expected
    line where it stops fitting, and of the actual line reached (as a tuple)."""
    memo = {}
    best = [(0, 0)]

    def go(e, a):
        key = (e, a)
        if key in memo:
            return memo[key]
        if (e, a) > best[0]:
            best[0] = (e, a)
        if e == len(expected):
            ok = a == len(actual)
        elif expected[e] == "...":
            ok = any(go(e + 1, k) for k in range(a, len(actual) + 1))
        else:
            ok = a < len(actual) and line_matches(expected[e], actual[a]) and go(e + 1, a + 1)
        memo[key] = ok
        return ok

    sys.setrecursionlimit(max(10000, 4 * (len(expected) + len(actual))))
    return None if go(0, 0) else best[0]


def indent(text, prefix="    "):
    return "".join(prefix + line + "\n" for line in text.rstrip("\n").split("\n"))


class Session:
    """One bash process the blocks run in, leading its own process group."""

    def __init__(self, root, work, env):
        self.root = root
        self.log = open(os.path.join(root, "session.log"), "wb")
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=work,
            env=env,
            start_new_session=True,
        )

    def run(self, n, block, timeout):
        """Runs block `n`; (exit status or None on timeout, output text, seconds)."""
        base = os.path.join(self.root, "blocks", f"{n:02d}")
        src = base + (".sh" if block.lang == "sh" else ".py")
        with open(src, "w") as f:
            f.write(block.text)
        out, status = base + ".out", base + ".status"
        if block.lang == "sh":
            command = f"{{ . {q(src)}; }}"
        else:
            command = f"python3 {q(src)}"
        line = (f"{command} < /dev/null > {q(out)} 2>&1; echo $? > {q(status)}.tmp; "
                f"mv {q(status)}.tmp {q(status)}\n")
        started = time.monotonic()
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        code = None
        while time.monotonic() - started < timeout:
            if os.path.exists(status):
                with open(status) as f:
                    code = int(f.read().strip() or "1")
                break
            if self.proc.poll() is not None:
                code = f"session-exited:{self.proc.returncode}"
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        text = ""
        if os.path.exists(out):
            with open(out, "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
        return code, text, elapsed

    def close(self):
        try:
            pgid = os.getpgid(self.proc.pid)
        except ProcessLookupError:
            pgid = self.proc.pid
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                self.proc.poll()
                time.sleep(0.05)
            else:
                continue
            break
        self.proc.poll()
        self.log.close()


def q(path):
    return "'" + path.replace("'", "'\\''") + "'"


def log_tails(work, lines=40):
    out = []
    for dirpath, _, files in os.walk(work):
        for name in sorted(files):
            if name.endswith(".log"):
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    tail = f.read().decode("utf-8", errors="replace").splitlines()[-lines:]
                out.append(f"--- last lines of {os.path.relpath(path, work)}:\n"
                           + indent("\n".join(tail) or "(empty)"))
    return "\n".join(out)


def prerequisites():
    missing = [tool for tool in ("bash", "curl", "aws", "python3") if shutil.which(tool) is None]
    probe = subprocess.run(
        ["python3", "-c", "import boto3, awslambdaric"], capture_output=True, text=True
    ) if "python3" not in missing else None
    if probe is None or probe.returncode != 0:
        missing.append("python modules boto3 and awslambdaric")
    return missing


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="the sluice binary to run")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (printed) after the run")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one block may take (default 60)")
    parser.add_argument("--verbose", action="store_true",
                        help="print every block's output (to write an output block)")
    parser.add_argument("readme", help="the README to run")
    args = parser.parse_args()

    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"readme: --bin {args.bin} is not an executable file", file=sys.stderr)
        return 2
    missing = prerequisites()
    if missing:
        print("readme: missing " + ", ".join(missing)
              + " (python3 -m pip install awscli boto3 awslambdaric)", file=sys.stderr)
        return 3
    with open(args.readme, encoding="utf-8") as f:
        readme = f.read()
    try:
        blocks, skipped = parse(readme)
    except ReadmeError as e:
        print(f"readme: {args.readme}: {e}", file=sys.stderr)
        return 2
    if not blocks:
        print(f"readme: {args.readme} has no sh or python block to run", file=sys.stderr)
        return 2

    ports = port_map(blocks)
    root = tempfile.mkdtemp(prefix="sluice-readme-")
    work = os.path.join(root, "work")
    for d in (work, os.path.join(root, "bin"), os.path.join(root, "blocks")):
        os.makedirs(d)
    os.symlink(binary, os.path.join(root, "bin", "sluice"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SLUICE_")) and k != "RUST_LOG"}
    env.update({
        "PATH": os.path.join(root, "bin") + os.pathsep + env.get("PATH", ""),
        "AWS_CONFIG_FILE": os.path.join(root, "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(root, "aws-credentials-none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "SLUICE_SERVER_LISTEN": "127.0.0.1:" + ports[DEFAULT_PORT],
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    for b in blocks:
        b.text = rewrite(rewrite_command(b.text), ports) if b.lang == "sh" else rewrite(b.text, ports)
        if b.expected is not None:
            b.expected = rewrite(b.expected, ports)

    print(f"readme: running {len(blocks)} blocks of {args.readme} in {work} "
          f"(ports {', '.join(f'{k}->{v}' for k, v in sorted(ports.items()))})", flush=True)
    session = Session(root, work, env)
    started = time.monotonic()
    failed = False
    try:
        for n, block in enumerate(blocks, 1):
            code, output, elapsed = session.run(n, block, args.timeout)
            expected = normalize(block.expected or "")
            actual = normalize(output)
            problem = None
            if code is None:
                problem = f"did not finish within {args.timeout:g} s"
            elif isinstance(code, str):
                problem = ("ended the bash session (status "
                           f"{code.split(':')[1]}): a block must not exit the shell")
            elif code != 0:
                problem = f"exited with status {code}"
            else:
                where = match(expected, actual)
                if where is not None:
                    e, a = where
                    problem = "printed something else than its output block"
                    if e < len(expected):
                        problem += f" (expected line {e + 1}: {expected[e]!r}"
                    else:
                        problem += " (expected no more lines"
                    problem += (f"; got line {a + 1}: {actual[a]!r})" if a < len(actual)
                                else "; got no more lines)")
            status = "ok" if problem is None else "FAILED"
            print(f"readme: block {n:2d} ({block.lang:6s} line {block.line:4d}) {status} "
                  f"in {elapsed:.1f} s", flush=True)
            if args.verbose and output:
                print(indent(output, "    | "), end="", flush=True)
            if problem is not None:
                failed = True
                report = [
                    f"readme: {args.readme} line {block.line}: the {block.lang} block {problem}.",
                    "--- the block (as run):", indent(block.text),
                    "--- its output:", indent(output or "(nothing)"),
                    (f"--- the expected output ({args.readme} line {block.expected_line}):"
                     if block.expected is not None
                     else "--- the expected output: (nothing: no output block follows it)"),
                    indent(block.expected or "(nothing)"),
                    log_tails(work),
                ]
                print("\n".join(r for r in report if r), flush=True)
                break
    finally:
        session.close()
        total = time.monotonic() - started
        if args.keep:
            print(f"readme: kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if failed:
        return 1
    print(f"readme: all {len(blocks)} blocks passed ({len(skipped)} not run) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
