//! The golden fixtures of the execution ledger (`fixtures/ledger/*.json`, written by the Python
//! reference): the Rust ledger reproduces every batch's records or input error, the final
//! snapshot and state, exactly (types, float bits and dict key order included); a snapshot
//! taken after any batch restores and replays the rest to the same records.

#![allow(clippy::print_stderr, reason = "a test names the fixture it replays")]

mod ledger_json;

use std::fs;
use std::path::PathBuf;

use cracktrader_core::{LValue, Ledger, LedgerError, LEDGER_VERSION};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ledger")
}

fn fixtures() -> Vec<(String, LValue)> {
    let mut paths: Vec<PathBuf> = fs::read_dir(fixture_dir())
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = fs::read_to_string(&path).expect("a readable fixture");
            (name, ledger_json::parse(&text))
        })
        .collect()
}

fn get<'a>(value: &'a LValue, key: &str) -> &'a LValue {
    value
        .get(key)
        .unwrap_or_else(|| panic!("no {key:?} in {}", value.py_repr()))
}

fn list(value: &LValue) -> &[LValue] {
    match value {
        LValue::List(items) => items,
        other => panic!("not a list: {}", other.py_repr()),
    }
}

fn new_ledger(init: &LValue) -> Ledger {
    Ledger::new_raw(
        get(init, "cash"),
        get(init, "fee_rate"),
        get(init, "strict"),
    )
    .expect("a valid init")
}

/// Apply one fixture batch and check its outcome.
fn check_batch(name: &str, k: usize, ledger: &mut Ledger, batch: &LValue) {
    let events = get(batch, "events");
    let before = ledger.snapshot();
    match (
        ledger.apply(events),
        batch.get("records"),
        batch.get("error"),
    ) {
        (Ok(records), Some(want), None) => {
            let got = LValue::List(records);
            assert!(
                got == *want,
                "{name}: batch {k}: records differ\n got: {}\nwant: {}",
                got.py_repr(),
                want.py_repr()
            );
        }
        (Err(LedgerError::Input(err)), None, Some(want)) => {
            let fields = [
                ("what", &err.what),
                ("field", &err.field),
                ("reason", &err.reason),
            ];
            for (key, got) in fields {
                assert_eq!(
                    get(want, key).as_str(),
                    Some(got.as_str()),
                    "{name}: batch {k}: error {key}"
                );
            }
            assert!(
                ledger.snapshot() == before,
                "{name}: batch {k}: a refused batch changed the ledger"
            );
        }
        (got, _, _) => panic!(
            "{name}: batch {k}: unexpected outcome {:?}",
            got.map(LValue::List).map(|l| l.py_repr())
        ),
    }
}

#[test]
fn the_rust_ledger_reproduces_every_fixture() {
    let all = fixtures();
    assert!(
        !all.is_empty(),
        "no ledger fixtures in {}",
        fixture_dir().display()
    );
    for (name, fx) in &all {
        eprintln!("ledger fixture {name}");
        assert_eq!(
            get(fx, "ledger_version"),
            &LValue::Int(i128::from(LEDGER_VERSION)),
            "{name}"
        );
        let mut ledger = new_ledger(get(fx, "init"));
        for (k, batch) in list(get(fx, "batches")).iter().enumerate() {
            check_batch(name, k, &mut ledger, batch);
        }
        let snapshot = ledger.snapshot();
        assert!(
            snapshot == *get(fx, "snapshot"),
            "{name}: snapshot differs\n got: {}\nwant: {}",
            snapshot.py_repr(),
            get(fx, "snapshot").py_repr()
        );
        let state = ledger.state().expect("a state");
        assert!(
            state == *get(fx, "state"),
            "{name}: state differs\n got: {}\nwant: {}",
            state.py_repr(),
            get(fx, "state").py_repr()
        );
        // the fixture's (Python-made) snapshot restores to the same snapshot and state
        let restored = Ledger::restore(get(fx, "snapshot")).expect("a valid snapshot");
        assert!(
            restored.snapshot() == *get(fx, "snapshot"),
            "{name}: restore"
        );
        assert!(
            restored.state().expect("a state") == *get(fx, "state"),
            "{name}: restored state"
        );
    }
}

#[test]
fn a_snapshot_after_any_batch_restores_and_replays_the_rest() {
    for (name, fx) in &fixtures() {
        let batches = list(get(fx, "batches"));
        for cut in 0..=batches.len() {
            let mut first = new_ledger(get(fx, "init"));
            for batch in &batches[..cut] {
                let _ = first.apply(get(batch, "events"));
            }
            let mut ledger = Ledger::restore(&first.snapshot()).expect("a valid snapshot");
            for (k, batch) in batches.iter().enumerate().skip(cut) {
                check_batch(name, k, &mut ledger, batch);
            }
            assert!(
                ledger.snapshot() == *get(fx, "snapshot"),
                "{name}: cut {cut}: final snapshot"
            );
        }
    }
}
