//! Inbox payloads of every kind.

use super::*;

// ---------------------------------------------------------------------------
// Inbox payloads

pub(super) fn arb_inbox_item() -> BoxedStrategy<InboxItem> {
    prop_oneof![
        arb_signal().prop_map(InboxItem::Signal),
        Just(InboxItem::Cancel),
        Just(InboxItem::Wake),
        arb_string().prop_map(|reason| InboxItem::Terminate { reason }),
        (arb_seq(), arb_json()).prop_map(|(seq, output)| InboxItem::Completed {
            seq,
            result: Ok(output)
        }),
        (arb_seq(), arb_failure()).prop_map(|(seq, failure)| InboxItem::Completed {
            seq,
            result: Err(failure)
        }),
    ]
    .boxed()
}

/// A kind: a real one or any string.
pub(super) fn arb_inbox_kind() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(INBOX_KINDS).prop_map(str::to_owned),
        1 => arb_string(),
    ]
    .boxed()
}

#[test]
pub(super) fn inbox_payloads_decode_or_are_refused() {
    // A message as encoded, with its payload mutated, or arbitrary.
    let message = prop_oneof![
        2 => (arb_inbox_item(), vec(arb_mutation(), 0..3)).prop_map(|(item, mutations)| {
            let (kind, mut payload) = item.encode();
            for m in &mutations {
                mutate(&mut payload, m);
            }
            (kind.to_owned(), payload, mutations.is_empty().then_some(item))
        }),
        2 => (arb_inbox_kind(), arb_json()).prop_map(|(kind, payload)| (kind, payload, None)),
    ];
    check(
        "inbox payloads",
        cases(256),
        message,
        |(kind, payload, item)| {
            let decoded = InboxItem::decode(&kind, payload.clone());
            if let Some(item) = item {
                prop_assert_eq!(decoded.as_ref(), Some(&item), "round trip");
            }
            if let Some(decoded) = decoded {
                // What decodes encodes back to its kind.
                prop_assert_eq!(decoded.encode().0, kind.as_str());
            }
            Ok(())
        },
    );
}
