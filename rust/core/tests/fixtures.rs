//! Golden fixtures: every `fixtures/core/*.json` recording (real Backtrader runs through the
//! Python core, see `bt_cracktrader/core/replay.py`) is replayed on the Rust core, which must
//! produce the same records, values, errors and states: floats bit for bit (sign of zero
//! included), ints as ints and floats as floats.

mod common;

use std::fmt;
use std::fs;
use std::path::Path;

use common::{
    core_fixture_paths, json_item, json_items, json_value, json_values, record_items, state_items,
    Item,
};
use cracktrader_core::{Core, CoreError, NoHooks, RawItem, CONTRACT_VERSION};
use serde_json::Value as Json;

fn raw_items(json: &Json) -> Vec<RawItem> {
    json.as_array()
        .expect("a list of tuples")
        .iter()
        .map(|row| match row.as_array() {
            Some(items) => RawItem::from_values(&items.iter().map(json_value).collect::<Vec<_>>()),
            None => RawItem::not_tuple(None),
        })
        .collect()
}

/// What a call returned: its records (`step`) and its value (`value_of`).
type Output = (Option<Vec<Vec<Item>>>, Option<Item>);

/// Replay one recording; `Err` names the first call that differs.
fn replay(path: &Path) -> Result<usize, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let rec: Json = serde_json::from_str(&text).map_err(|e| format!("parse: {e}"))?;
    if rec["contract_version"].as_u64() != Some(u64::from(CONTRACT_VERSION)) {
        return Err(format!("contract_version {}", rec["contract_version"]));
    }
    let init = &rec["init"];
    let mut core = Core::new_raw([
        json_value(&init["cash"]),
        json_value(&init["checksubmit"]),
        json_value(&init["shortcash"]),
        json_value(&init["fundstartval"]),
    ])
    .map_err(|e| format!("init: {e}"))?;
    let calls = rec["calls"].as_array().ok_or("no calls")?;
    for (i, call) in calls.iter().enumerate() {
        let kind = call["call"].as_str().unwrap_or("?");
        let fail = |what: &str, expected: &dyn fmt::Debug, got: &dyn fmt::Debug| {
            format!(
                "call #{i} ({kind}): {what} differs\n expected: {expected:?}\n got:      {got:?}"
            )
        };
        let outcome: Result<Output, CoreError> = match kind {
            "step" => core
                .step_raw(
                    &raw_items(&call["events"]),
                    &raw_items(&call["bars"]),
                    &mut NoHooks,
                )
                .map(|records| (Some(records.iter().map(record_items).collect()), None)),
            "apply" => core
                .apply_raw(&raw_items(&call["events"]))
                .map(|records| (Some(records.iter().map(record_items).collect()), None)),
            "value_of" => {
                let lever = call["lever"].as_bool().expect("lever");
                let (datas, closes) = (json_values(&call["datas"]), json_values(&call["closes"]));
                core.value_of_raw(&datas, &closes, lever, &mut NoHooks)
                    .map(|value| (None, Some(Item::from(value))))
            }
            other => return Err(format!("call #{i}: unknown call {other:?}")),
        };
        match outcome {
            Ok((records, value)) => {
                if let Some(err) = call.get("error") {
                    return Err(fail("outcome", err, &"no error"));
                }
                if let Some(records) = records {
                    let expected: Vec<Vec<Item>> = call["records"]
                        .as_array()
                        .ok_or_else(|| format!("call #{i}: no records"))?
                        .iter()
                        .map(json_items)
                        .collect();
                    if expected != records {
                        return Err(fail("records", &expected, &records));
                    }
                }
                if let Some(value) = value {
                    let expected = json_item(&call["value"]);
                    if expected != value {
                        return Err(fail("value", &expected, &value));
                    }
                }
            }
            Err(CoreError::Input(err)) => {
                let expected = call
                    .get("error")
                    .ok_or_else(|| fail("outcome", &"no error", &err.to_string()))?;
                let got = serde_json::json!({
                    "what": err.what, "field": err.field, "reason": err.reason,
                });
                let expected_fields = serde_json::json!({
                    "what": expected["what"], "field": expected["field"],
                    "reason": expected["reason"],
                });
                if expected_fields != got {
                    return Err(fail("error", &expected_fields, &got));
                }
            }
            Err(other) => return Err(fail("outcome", &call.get("error"), &other)),
        }
        if let Some(expected) = call.get("state") {
            let expected = json_items(expected);
            let got = state_items(&core.state());
            if expected != got {
                return Err(fail("state", &expected, &got));
            }
        }
    }
    Ok(calls.len())
}

#[test]
fn golden_fixtures_replay_bit_for_bit() {
    let paths = core_fixture_paths();
    let mut failures = Vec::new();
    for path in &paths {
        match replay(path) {
            Ok(calls) => assert!(calls > 0, "{}: no call", path.display()),
            Err(why) => failures.push(format!("{}: {why}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_changed_number_is_detected() {
    // The comparison itself: int vs float and the sign of zero are differences.
    assert!(Item::Int(1) != Item::Float(1.0));
    assert!(Item::Float(0.0) != Item::Float(-0.0));
    assert!(json_item(&serde_json::json!(1)) == Item::Int(1));
    let parsed: Json = serde_json::from_str("[1.0, -0.0, 0.1, 731264.9999999999]").unwrap();
    assert_eq!(
        json_items(&parsed),
        vec![
            Item::Float(1.0),
            Item::Float(-0.0),
            Item::Float(0.1),
            Item::Float(731_264.999_999_999_9)
        ]
    );
}
