//! The escape hatch (`#[reprise::allow(nondeterminism, reason = "..")]`):
//! what it covers, and the mistakes it refuses.

use super::*;

#[test]
fn escape_hatch_on_a_statement() {
    let (messages, output) = lint_and_output(
        "#[reprise::allow(nondeterminism, reason = \"only logged\")]
         let t = SystemTime::now();
         #[reprise::allow(nondeterminism, reason = \"sorted before use\")]
         let m: HashMap<u8, u8> = HashMap::new();
         #[reprise::allow(nondeterminism, reason = \"local debugging\")]
         println!(\"{:?}\", Instant::now());
         #[reprise::allow(nondeterminism, reason = \"a counter for tests\")]
         static mut N: u32 = 0;
         #[reprise::allow(nondeterminism, reason = \"x\")]
         std::thread::sleep(d);",
    );
    assert!(messages.is_empty(), "{messages:#?}");
    assert!(!output.contains("reprise"), "attribute left in {output}");
    assert!(
        !output.contains("nondeterminism"),
        "attribute left in {output}"
    );
    assert!(
        output.contains("SystemTime :: now"),
        "code removed from {output}"
    );
}

#[test]
fn escape_hatch_covers_only_its_statement() {
    let messages = lint(
        "#[reprise::allow(nondeterminism, reason = \"only logged\")]
         let t = SystemTime::now();
         let u = SystemTime::now();",
    );
    assert_eq!(messages.len(), 1, "{messages:#?}");
}

#[test]
fn escape_hatch_on_an_expression_block_and_arm() {
    let (messages, output) = lint_and_output(
        "let t = #[reprise::allow(nondeterminism, reason = \"r\")] SystemTime::now();
         #[reprise::allow(nondeterminism, reason = \"r\")]
         {
             let t = SystemTime::now();
             #[reprise::allow(nondeterminism, reason = \"nested\")]
             let u = Instant::now();
         }
         match x {
             #[reprise::allow(nondeterminism, reason = \"r\")]
             Some(_) => std::fs::read(p),
             None => std::fs::read(q),
         };
         let s = S { #[reprise::allow(nondeterminism, reason = \"r\")] at: SystemTime::now(), b: 1 };",
    );
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0].contains("`std::fs::read`"));
    assert!(!output.contains("reprise"), "attribute left in {output}");
}

#[test]
fn escape_hatch_for_a_renamed_crate() {
    let (messages, output) = lint_and_output(
        "#[durable::allow(nondeterminism, reason = \"renamed crate\")] let t = SystemTime::now();",
    );
    assert!(messages.is_empty(), "{messages:#?}");
    assert!(!output.contains("allow"), "attribute left in {output}");
    // Another crate's `allow` is left alone.
    let (messages, output) = lint_and_output("#[other::allow(something)] let t = 1;");
    assert!(messages.is_empty(), "{messages:#?}");
    assert!(
        output.contains("other :: allow"),
        "attribute removed from {output}"
    );
}

#[test]
fn escape_hatch_inside_nested_items_is_stripped() {
    let (messages, output) = lint_and_output(
        "fn helper() { #[reprise::allow(nondeterminism, reason = \"r\")] let t = SystemTime::now(); }",
    );
    assert!(messages.is_empty(), "{messages:#?}");
    assert!(!output.contains("reprise"), "attribute left in {output}");
}

#[test]
fn escape_hatch_needs_a_reason() {
    let (messages, output) =
        lint_and_output("#[reprise::allow(nondeterminism)] let t = SystemTime::now();");
    assert_eq!(
        messages,
        ["`reprise::allow(nondeterminism)` needs a `reason = \"...\"`"]
    );
    assert!(!output.contains("reprise"), "attribute left in {output}");
    let messages =
        lint("#[reprise::allow(nondeterminism, reason = \"  \")] let t = SystemTime::now();");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0].contains("must not be empty"), "{messages:#?}");
}

#[test]
fn escape_hatch_rejects_mistakes() {
    let messages =
        lint("#[reprise::allow(nondeterminsm, reason = \"r\")] let t = SystemTime::now();");
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(
        messages[0].contains("unknown lint `nondeterminsm`"),
        "{messages:#?}"
    );
    assert!(messages[1].contains("`SystemTime::now`"), "{messages:#?}");

    let messages = lint("#[reprise::allow(nondeterminism, because = \"r\")] let t = 1;");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].contains("unknown argument `because`"),
        "{messages:#?}"
    );

    let messages =
        lint("#[reprise::allow(nondeterminism, reason = \"a\", reason = \"b\")] let t = 1;");
    assert_eq!(messages, ["duplicate `reason`"]);

    let messages = lint("#[reprise::allow(nondeterminism, reason = 5)] let t = 1;");
    assert_eq!(messages.len(), 1, "{messages:#?}");

    let messages = lint("#[reprise::allow] let t = 1;");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0].contains("needs a lint name"), "{messages:#?}");
}
