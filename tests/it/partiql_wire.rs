//! PartiQL on the wire, as AWS answers it: the exact shape of a write's answer and the
//! exact texts of AWS's refusals (recorded against AWS by a public conformance suite),
//! driven with raw HTTP so a missing member or a reworded message cannot hide.

use serde_json::{Value as Json, json};

use crate::harness::{RawResponse, Server, create_table};

async fn execute(server: &Server, statement: &str) -> RawResponse {
    let body = json!({ "Statement": statement }).to_string();
    server.post("ExecuteStatement", body.as_bytes(), &[]).await
}

/// The message of a ValidationException, failing the test on anything else.
async fn refusal(server: &Server, statement: &str) -> String {
    let r = execute(server, statement).await;
    assert_eq!(r.status, 400, "{statement}: {}", r.text());
    assert!(r.json()["__type"].as_str().unwrap().ends_with("#ValidationException"), "{}", r.text());
    r.json()["message"].as_str().unwrap().to_string()
}

/// Every write answers an empty `Items` list (ExecuteStatement) or an empty `Responses`
/// list (ExecuteTransaction), as AWS does: the members are there, not omitted.
#[tokio::test]
async fn writes_answer_empty_items_and_responses() {
    let server = Server::start();
    create_table(&server.client(), "pqw", false).await;
    for statement in [
        "INSERT INTO pqw VALUE {'pk': 'a'}",
        "UPDATE pqw SET x = 2 WHERE pk = 'a'",
        "DELETE FROM pqw WHERE pk = 'a'",
        "DELETE FROM pqw WHERE pk = 'never-written'",
    ] {
        let r = execute(&server, statement).await;
        assert_eq!(r.status, 200, "{statement}: {}", r.text());
        assert_eq!(r.json()["Items"], json!([]), "{statement}: {}", r.text());
    }
    let body = json!({ "TransactStatements": [
        { "Statement": "INSERT INTO pqw VALUE {'pk': 'b'}" },
        { "Statement": "DELETE FROM pqw WHERE pk = 'a'" },
    ], "ReturnConsumedCapacity": "TOTAL" });
    let r = server.post("ExecuteTransaction", body.to_string().as_bytes(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer: Json = r.json();
    assert_eq!(answer["Responses"], json!([]), "{answer}");
    assert!(answer["ConsumedCapacity"].is_array(), "{answer}");
}

/// Refusals worded as AWS words them: the parser's details, a table alias, number
/// literals out of range with where they sit, and parameters checked bare and in order.
#[tokio::test]
async fn refusals_carry_aws_wording() {
    let server = Server::start();
    create_table(&server.client(), "pqm", false).await;
    let malformed = "Statement wasn't well formed, can't be processed: ";
    let cases = [
        ("SELECT * FROM pqm WHERE pk = 'a' foo", format!("{malformed}Unexpected token after expression")),
        ("SELECT * FROM pqm WHERE", format!("{malformed}Unexpected term")),
        ("SELECT * FROM pqm WHERE pk = 'a' AND", format!("{malformed}Missing right-hand side expression of infix operator")),
        ("SELECT * FROM pqm WHERE pk = 1e2147483648", malformed.to_string()),
        ("DELETE FROM WHERE pk = 'a'", format!("{malformed}Expected identifier for simple path")),
        ("SELECT * FROM pqm t WHERE pk = 'a'", "Aliasing is not supported".to_string()),
        ("x IS INT4", "Unsupported operation: IsType".to_string()),
        (
            "INSERT INTO pqm VALUE {'pk': 'a', 'l': [1, 1e126]}",
            "Number overflow. Attempting to store a number with magnitude larger than supported range under root[1]".to_string(),
        ),
        ("FROM pqm SET c = 1", "Where clause does not contain a mandatory equality on all key attributes".to_string()),
    ];
    for (statement, message) in cases {
        assert_eq!(refusal(&server, statement).await, message, "{statement}");
    }
    // Parameters: the first fault of the first faulty one, bare, in BigDecimal's terms.
    let deep = (0..40).fold(json!({"N": "1"}), |v, _| json!({ "L": [v] }));
    let body = |params: Json| {
        json!({ "Statement": "UPDATE pqm SET x = ? SET y = ? WHERE pk = 'a'", "Parameters": params })
            .to_string()
    };
    for (params, message) in [
        (
            json!([{"N": "1e99999999999"}, {"N": "1"}]),
            "The parameter cannot be converted to a numeric value: 1e99999999999",
        ),
        (
            json!([{"N": "1e2147483647"}, {"N": "1"}]),
            "Number underflow. Attempting to store a number with magnitude smaller than supported range",
        ),
        (
            json!([deep.clone(), {"N": "abc"}]),
            "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit",
        ),
        (json!([{"N": "abc"}, deep]), "The parameter cannot be converted to a numeric value: abc"),
    ] {
        let r = server.post("ExecuteStatement", body(params.clone()).as_bytes(), &[]).await;
        assert_eq!(r.status, 400, "{params}: {}", r.text());
        assert_eq!(r.json()["message"], message, "{params}");
    }
    // Batch and transaction reads name the whole key, in AWS's words for each.
    let body = json!({ "Statements": [{ "Statement": "SELECT * FROM pqm WHERE pk = 'a' AND attribute_exists(x)" }] });
    let r = server.post("BatchExecuteStatement", body.to_string().as_bytes(), &[]).await;
    assert_eq!(
        r.json()["Responses"][0]["Error"]["Message"],
        "Select statements within BatchExecuteStatement must specify the primary key in the where clause."
    );
    let body = json!({ "TransactStatements": [{ "Statement": "SELECT * FROM pqm WHERE pk = 'a' AND attribute_exists(x)" }] });
    let r = server.post("ExecuteTransaction", body.to_string().as_bytes(), &[]).await;
    assert_eq!(
        r.json()["message"],
        "Validation failed in TransactStatements[0]: Select statements within ExecuteTransaction must specify the primary key in the where clause."
    );
}

/// What AWS's PartiQL reads that a first parser did not: block comments, a function
/// compared with true, IS with a type name, and the FROM-first UPDATE.
#[tokio::test]
async fn aws_forms_run() {
    let server = Server::start();
    create_table(&server.client(), "pqf", false).await;
    ok(&execute(&server, "INSERT INTO pqf VALUE {'pk': 'a', 'flag': true, 's': 'x'}").await);
    ok(&execute(&server, "FROM pqf WHERE pk = 'a' SET c = 1 REMOVE s").await);
    let r = execute(&server, "SELECT * FROM pqf /* note */ WHERE pk = 'a' AND flag IS BOOL AND attribute_exists(c) = true").await;
    ok(&r);
    assert_eq!(
        r.json()["Items"],
        json!([{"pk": {"S": "a"}, "flag": {"BOOL": true}, "c": {"N": "1"}}])
    );
    let r = execute(&server, "SELECT * FROM pqf WHERE pk = 'a' AND flag IS STRING").await;
    assert_eq!(r.json()["Items"], json!([]), "{}", r.text());
    let r = execute(&server, "FROM pqf WHERE pk = 'absent' SET c = 1").await;
    assert_eq!(r.status, 400);
    assert!(r.json()["__type"].as_str().unwrap().ends_with("ConditionalCheckFailedException"));
}

/// set_add and set_delete misused, functions where none may be, and WHERE branches
/// that overlap on a sort key: AWS's messages, positions included.
#[tokio::test]
async fn misused_functions_and_overlapping_branches() {
    let server = Server::start();
    create_table(&server.client(), "pqs", true).await;
    ok(&execute(&server, "INSERT INTO pqs VALUE {'pk': 'a', 'sk': 1, 'ss': <<'x'>>}").await);
    let cases = [
        (
            "UPDATE pqs SET t = set_add(ss, <<'x'>>) WHERE pk = 'a' AND sk = 1",
            "The first argument to SET_ADD must equal the assignment value at 1:20:7",
        ),
        (
            "UPDATE pqs SET ss = set_add(ss, 'x') WHERE pk = 'a' AND sk = 1",
            "The second argument to SET_ADD must be a value with type SET at 1:29:2",
        ),
        (
            "UPDATE pqs SET ss = set_add(ss, <<>>) WHERE pk = 'a' AND sk = 1",
            "Empty bags are not supported",
        ),
        (
            "UPDATE pqs SET ss = set_add(ss, <<'y', 'y'>>) WHERE pk = 'a' AND sk = 1",
            "One or more parameter values were invalid: Input collection [y, y] contains duplicates.",
        ),
        (
            "SELECT * FROM pqs WHERE pk = 'a' AND EXISTS(ss)",
            "Unrecognized function: exists at 1:38:6",
        ),
        (
            "SELECT * FROM pqs WHERE pk = 'a' AND x = '1' OR pk = 'a' AND sk = 2",
            "Overlapping conditions with range keys are not supported in where clause",
        ),
    ];
    for (statement, message) in cases {
        assert_eq!(refusal(&server, statement).await, message, "{statement}");
    }
    // Branches that differ on key attributes only run.
    let r =
        execute(&server, "SELECT * FROM pqs WHERE pk = 'a' AND NOT sk = 5 OR pk = 'a' AND sk = 1")
            .await;
    ok(&r);
    assert_eq!(r.json()["Items"].as_array().unwrap().len(), 1, "{}", r.text());
}

fn ok(r: &RawResponse) {
    assert_eq!(r.status, 200, "{}", r.text());
}
