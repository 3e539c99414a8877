//! The `[lambda]` section: loading, defaults and every refusal naming its key.

use super::*;
use crate::config::{Config, Overrides};

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, String> {
    let env = env.iter().map(|(a, b)| (a.to_string(), b.to_string()));
    Config::load_text(Some((std::path::Path::new("c.toml"), text)), env, &Overrides::default())
        .map_err(|e| e.to_string())
}

#[test]
fn functions_load_with_aws_defaults() {
    let c = load(
        "[lambda]\nendpoint = \"http://127.0.0.1:4566\"\n\
         [[lambda.functions]]\nname = \"a\"\ninvoke_url = \"http://h:9000/2015-03-31/functions/function/invocations\"\n\
         [[lambda.functions]]\nname = \"b-2_x\"\nruntime_api_listen = \"127.0.0.1:9001\"\ntimeout_seconds = 900\n\
         [[lambda.functions]]\nname = \"c\"\ncommand = [\"python3\", \"-m\", \"awslambdaric\", \"h.fn\"]\n\
         concurrency = 4\nhandler = \"h.fn\"\nenvironment = { STAGE = \"dev\" }\n",
        &[],
    )
    .unwrap();
    let l = &c.lambda;
    assert_eq!(l.endpoint, "http://127.0.0.1:4566");
    let a = l.function("a").unwrap();
    assert_eq!((a.timeout_seconds, a.concurrency, a.memory_size), (3, 1, 128));
    assert_eq!(
        a.kind(),
        Some(FunctionKind::InvokeUrl("http://h:9000/2015-03-31/functions/function/invocations"))
    );
    assert_eq!(
        l.function("b-2_x").unwrap().kind(),
        Some(FunctionKind::RuntimeApi("127.0.0.1:9001".parse().unwrap()))
    );
    let cmd = l.function("c").unwrap();
    assert!(matches!(cmd.kind(), Some(FunctionKind::Command(argv)) if argv.len() == 4));
    assert_eq!(cmd.environment["STAGE"], "dev");
    assert!(l.function("d").is_none());
}

#[test]
fn the_endpoint_comes_from_the_environment_and_functions_from_the_file_only() {
    let c = load("", &[("SLUICE_LAMBDA_ENDPOINT", "http://localhost:3001")]).unwrap();
    assert_eq!(c.lambda.endpoint, "http://localhost:3001");
    let e = load("", &[("SLUICE_LAMBDA_FUNCTIONS", "[]")]).unwrap_err();
    assert!(e.contains("cannot be set from the environment"), "{e}");
    let e = load("", &[("SLUICE_LAMBDA_ENDPOINT", "localhost:3001")]).unwrap_err();
    assert!(e.contains("lambda.endpoint"), "{e}");
}

#[test]
fn on_failure_endpoints_are_base_urls() {
    let c = load(
        "",
        &[
            ("SLUICE_LAMBDA_ON_FAILURE_SQS_ENDPOINT", "http://127.0.0.1:9324"),
            ("SLUICE_LAMBDA_ON_FAILURE_SNS_ENDPOINT", "http://127.0.0.1:4566"),
        ],
    )
    .unwrap();
    assert_eq!(c.lambda.on_failure_sqs_endpoint, "http://127.0.0.1:9324");
    assert_eq!(c.lambda.on_failure_sns_endpoint, "http://127.0.0.1:4566");
    let c = load("[lambda]\non_failure_sqs_endpoint = \"https://sqs\"\n", &[]).unwrap();
    assert_eq!(c.lambda.on_failure_sqs_endpoint, "https://sqs");
    let e = load("[lambda]\non_failure_sns_endpoint = \"http://h:1/x\"\n", &[]).unwrap_err();
    assert!(e.contains("lambda.on_failure_sns_endpoint: must be a base URL"), "{e}");
}

#[test]
fn bad_functions_are_refused_naming_the_key() {
    let f = |body: &str| format!("[[lambda.functions]]\n{body}\n");
    let cases = [
        (f("name = \"a\""), "set exactly one of invoke_url, runtime_api_listen and command"),
        (f("name = \"a\"\ninvoke_url = \"http://h/\"\ncommand = [\"x\"]"), "set exactly one of"),
        (f("name = \"a b\"\ncommand = [\"x\"]"), "lambda.functions[0].name"),
        (f("name = \"\"\ncommand = [\"x\"]"), "lambda.functions[0].name"),
        (
            f(&format!("name = \"{}\"\ncommand = [\"x\"]", "n".repeat(65))),
            "lambda.functions[0].name",
        ),
        (f("name = \"a\"\ncommand = []"), "lambda.functions[0].command"),
        (f("name = \"a\"\ninvoke_url = \"ftp://h/x\""), "lambda.functions[0].invoke_url"),
        (f("name = \"a\"\ninvoke_url = \"h:1/x\""), "lambda.functions[0].invoke_url"),
        (
            f("name = \"a\"\nruntime_api_listen = \"nope\""),
            "lambda.functions[0].runtime_api_listen",
        ),
        (f("name = \"a\"\nruntime_api_listen = \"127.0.0.1:0\""), "must name a port"),
        (f("name = \"a\"\ncommand = [\"x\"]\ntimeout_seconds = 0"), "timeout_seconds"),
        (f("name = \"a\"\ncommand = [\"x\"]\ntimeout_seconds = 901"), "timeout_seconds"),
        (f("name = \"a\"\ncommand = [\"x\"]\nconcurrency = 0"), "concurrency"),
        (f("name = \"a\"\ncommand = [\"x\"]\nmemory_size = 64"), "memory_size"),
        (f("name = \"a\"\ncommand = [\"x\"]\nhandler = \"a b\""), "handler"),
        (f("name = \"a\"\ncommand = [\"x\"]\nenvironment = { \"1X\" = \"v\" }"), "environment"),
        (f("name = \"a\"\ncommand = [\"x\"]\nnope = 1"), "nope"),
        (
            format!(
                "{}{}",
                f("name = \"a\"\ncommand = [\"x\"]"),
                f("name = \"a\"\ncommand = [\"y\"]")
            ),
            "lambda.functions[1].name",
        ),
        (
            format!(
                "{}{}",
                f("name = \"a\"\nruntime_api_listen = \"127.0.0.1:9\""),
                f("name = \"b\"\nruntime_api_listen = \"127.0.0.1:9\"")
            ),
            "lambda.functions[1].runtime_api_listen",
        ),
        ("[lambda]\nendpoint = \"http://h:1/path\"\n".to_string(), "lambda.endpoint"),
        ("[lambda]\nendpoint = \"https://h/x\"\n".to_string(), "lambda.endpoint"),
        ("[lambda]\naccess_key_id = \"a\"\n".to_string(), "set together"),
    ];
    for (text, want) in cases {
        let e = load(&text, &[]).unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn function_names_are_lambdas() {
    assert!(valid_function_name("a-B_9"));
    assert!(!valid_function_name("a.b"));
}
