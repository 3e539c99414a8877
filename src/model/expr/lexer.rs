//! The tokenizer shared by every expression kind, and AWS's syntax-error text.
//!
//! Token rules (AWS-recorded cases in the tests): identifiers are
//! `[A-Za-z][A-Za-z0-9_]*` (so `_a` lexes as `_` then `a`: AWS reports
//! `token: "_", near: "SET _123"`), `#name` and `:value` are the sigil followed by
//! one or more `[A-Za-z0-9_]`, integers are `[0-9]+`, operators are
//! `<> <= >= = < > ( ) [ ] , . + -`, whitespace is space, tab, CR and LF, and any
//! other character is a token of its own (so `"!!!"` fails on the first `!`).

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare word: attribute name, function name or keyword.
    Ident,
    /// `#placeholder`.
    Name,
    /// `:placeholder`.
    Value,
    /// Decimal digits (only valid as a list index).
    Int,
    /// An operator or bracket.
    Punct,
    /// Any other single character.
    Other,
    /// The end of the input.
    Eof,
}

/// A token: its kind and byte span in the source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    /// What the token is.
    pub kind: Kind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

const PUNCT2: [&str; 3] = ["<>", "<=", ">="];
const PUNCT1: &[u8] = b"=<>()[],.+-";

/// Splits `src` into tokens; the last token is always [`Kind::Eof`].
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let word = |mut i: usize| {
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        i
    };
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
            continue;
        }
        let start = i;
        let kind = if c.is_ascii_alphabetic() {
            i = word(i + 1);
            Kind::Ident
        } else if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            Kind::Int
        } else if (c == b'#' || c == b':') && word(i + 1) > i + 1 {
            i = word(i + 1);
            if c == b'#' { Kind::Name } else { Kind::Value }
        } else if PUNCT2.iter().any(|p| bytes[i..].starts_with(p.as_bytes())) {
            i += 2;
            Kind::Punct
        } else if PUNCT1.contains(&c) {
            i += 1;
            Kind::Punct
        } else {
            // One whole character, never half of a UTF-8 sequence.
            i += src[i..].chars().next().map_or(1, char::len_utf8);
            Kind::Other
        };
        toks.push(Token { kind, start, end: i });
    }
    toks.push(Token { kind: Kind::Eof, start: src.len(), end: src.len() });
    toks
}

/// The text of token `i` as AWS prints it (`<EOF>` for the end).
pub(crate) fn token_text<'s>(src: &'s str, toks: &[Token], i: usize) -> &'s str {
    match toks[i].kind {
        Kind::Eof => "<EOF>",
        _ => &src[toks[i].start..toks[i].end],
    }
}

/// AWS's syntax error for a parse that stopped at token `at`:
/// `Syntax error; token: "<tok>", near: "<text>"`, where the near text runs from
/// the start of the previous token to the end of the next one, whitespace in
/// between kept verbatim (recorded: `SET a = :v,` gives `token: "<EOF>", near: ","`,
/// `INVALID SYNTAX HERE` gives `token: "INVALID", near: "INVALID SYNTAX"`).
pub(crate) fn syntax_error(src: &str, toks: &[Token], at: usize) -> String {
    let from = if at > 0 { toks[at - 1].start } else { 0 };
    let to = match toks.get(at + 1) {
        Some(next) if next.kind != Kind::Eof && toks[at].kind != Kind::Eof => next.end,
        _ => src.len(),
    };
    format!("Syntax error; token: \"{}\", near: \"{}\"", token_text(src, toks, at), &src[from..to])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, &str)> {
        let toks = lex(src);
        (0..toks.len()).map(|i| (toks[i].kind, token_text(src, &toks, i))).collect()
    }

    #[test]
    fn lexes_every_kind() {
        use Kind::*;
        assert_eq!(
            kinds("a_1 #n_2 :v3 [10]<>b<=c>=d=e<f>g,(h).i+j-k"),
            vec![
                (Ident, "a_1"),
                (Name, "#n_2"),
                (Value, ":v3"),
                (Punct, "["),
                (Int, "10"),
                (Punct, "]"),
                (Punct, "<>"),
                (Ident, "b"),
                (Punct, "<="),
                (Ident, "c"),
                (Punct, ">="),
                (Ident, "d"),
                (Punct, "="),
                (Ident, "e"),
                (Punct, "<"),
                (Ident, "f"),
                (Punct, ">"),
                (Ident, "g"),
                (Punct, ","),
                (Punct, "("),
                (Ident, "h"),
                (Punct, ")"),
                (Punct, "."),
                (Ident, "i"),
                (Punct, "+"),
                (Ident, "j"),
                (Punct, "-"),
                (Ident, "k"),
                (Eof, "<EOF>"),
            ]
        );
    }

    #[test]
    fn odd_characters_are_single_tokens() {
        use Kind::*;
        assert_eq!(kinds("_1"), vec![(Other, "_"), (Int, "1"), (Eof, "<EOF>")]);
        assert_eq!(kinds("# :"), vec![(Other, "#"), (Other, ":"), (Eof, "<EOF>")]);
        assert_eq!(kinds("ü!"), vec![(Other, "ü"), (Other, "!"), (Eof, "<EOF>")]);
        assert_eq!(kinds("1abc"), vec![(Int, "1"), (Ident, "abc"), (Eof, "<EOF>")]);
    }

    #[test]
    fn near_text_spans_neighbours() {
        let err = |src: &str, at| syntax_error(src, &lex(src), at);
        assert_eq!(
            err("INVALID SYNTAX HERE", 0),
            r#"Syntax error; token: "INVALID", near: "INVALID SYNTAX""#
        );
        assert_eq!(err("SET a,", 3), r#"Syntax error; token: "<EOF>", near: ",""#);
        assert_eq!(err("SET a = ", 3), r#"Syntax error; token: "<EOF>", near: "= ""#);
        assert_eq!(err("SET _123 = :v", 1), r#"Syntax error; token: "_", near: "SET _123""#);
        assert_eq!(err("a  b", 1), r#"Syntax error; token: "b", near: "a  b""#);
    }
}
