//! Behaviours of the execution ledger (the Rust twin of `bt_cracktrader/core/ledger.py`).

#![allow(clippy::float_cmp, reason = "exact float results are the point")]

mod ledger_json;

use cracktrader_core::{LValue, Ledger, LedgerError, Num, LEDGER_TRANSITIONS};
use ledger_json::parse;

fn ledger(strict: bool) -> Ledger {
    Ledger::new(Num::Float(10_000.0), Num::Float(0.0), strict).expect("a ledger")
}

fn apply(led: &mut Ledger, events: &str) -> Vec<LValue> {
    led.apply(&parse(events))
        .unwrap_or_else(|err| panic!("apply failed: {err}"))
}

fn kinds(records: &[LValue]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let kind = r.get("kind").and_then(LValue::as_str).unwrap_or("?");
            if kind == "diagnostic" {
                r.get("category")
                    .and_then(LValue::as_str)
                    .unwrap_or("?")
                    .to_owned()
            } else if kind == "transition" {
                format!(
                    "{}->{}",
                    r.get("from").and_then(LValue::as_str).unwrap_or("?"),
                    r.get("to").and_then(LValue::as_str).unwrap_or("?")
                )
            } else {
                kind.to_owned()
            }
        })
        .collect()
}

fn fills(records: &[LValue]) -> Vec<&LValue> {
    records
        .iter()
        .filter(|r| r.get("kind").and_then(LValue::as_str) == Some("fill"))
        .collect()
}

fn submit(seq: i64, order: &str, size: &str, exectype: &str, price: &str, sim: bool) -> String {
    format!(
        r#"{{"type": "submit", "seq": {seq}, "order": "{order}", "data": 0, "side": "buy", "size": {size}, "exectype": "{exectype}", "price": {price}, "sim": {sim}}}"#
    )
}

fn accept(seq: i64, order: &str, id: &str) -> String {
    format!(r#"{{"type": "accept", "seq": {seq}, "order": "{order}", "order_id": "{id}"}}"#)
}

#[allow(clippy::too_many_arguments, reason = "a report has many fields")]
fn report(
    seq: i64,
    order: &str,
    status: &str,
    filled: &str,
    average: &str,
    fee: &str,
    key: &str,
) -> String {
    format!(
        r#"{{"type": "report", "seq": {seq}, "order": "{order}", "order_id": null, "status": "{status}", "filled": {filled}, "average": {average}, "cost": null, "last_price": null, "last_size": null, "fee": {fee}, "ts": 1000, "key": "{key}"}}"#
    )
}

fn batch(events: &[String]) -> String {
    format!("[{}]", events.join(", "))
}

fn order_field(led: &Ledger, order: &str, field: &str) -> LValue {
    led.order(order)
        .and_then(|o| o.get(field).cloned())
        .expect("an order field")
}

#[test]
fn partial_fills_then_completion() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[
            submit(1, "a", "10", "limit", "100.0", false),
            accept(2, "a", "X1"),
        ]),
    );
    let recs = apply(
        &mut led,
        &batch(&[report(3, "a", "open", "4", "100.0", "0.4", "k1")]),
    );
    assert_eq!(kinds(&recs), ["fill", "Accepted->Partial", "notification"]);
    let fill = fills(&recs)[0];
    assert_eq!(fill.get("size"), Some(&LValue::Int(4)));
    assert_eq!(fill.get("price"), Some(&LValue::Float(100.0)));
    assert_eq!(fill.get("remaining"), Some(&LValue::Int(6)));
    assert_eq!(
        fill.get("cash"),
        Some(&LValue::Float(10_000.0 - 400.0 - 0.4))
    );
    let recs = apply(
        &mut led,
        &batch(&[report(4, "a", "closed", "10", "101.0", "1.0", "k2")]),
    );
    assert_eq!(kinds(&recs), ["fill", "Partial->Completed", "notification"]);
    let fill = fills(&recs)[0];
    // (10 * 101.0 - 400.0) / 6
    assert_eq!(
        fill.get("price"),
        Some(&LValue::Float((10.0 * 101.0 - 400.0) / 6.0))
    );
    assert_eq!(fill.get("fee"), Some(&LValue::Float(1.0 - 0.4)));
    assert_eq!(order_field(&led, "a", "filled"), LValue::Int(10));
    assert_eq!(order_field(&led, "a", "status"), LValue::from("Completed"));
    let state = led.state().expect("a state");
    assert_eq!(state.get("open_orders"), Some(&LValue::List(vec![])));
}

#[test]
fn duplicate_and_stale_reports_change_nothing() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[
            submit(1, "a", "10", "market", "null", false),
            accept(2, "a", "X1"),
        ]),
    );
    apply(
        &mut led,
        &batch(&[report(5, "a", "open", "4", "100.0", "null", "k1")]),
    );
    let before = led.snapshot();
    // the same key again
    let recs = apply(
        &mut led,
        &batch(&[report(6, "a", "open", "5", "100.0", "null", "k1")]),
    );
    assert_eq!(kinds(&recs), ["duplicate_report"]);
    assert_eq!(recs[0].get("key"), Some(&LValue::from("k1")));
    assert_eq!(recs[0].get("level"), Some(&LValue::from("DEBUG")));
    // the same cumulative filled and status under a new key
    let recs = apply(
        &mut led,
        &batch(&[report(6, "a", "open", "4", "100.0", "null", "k2")]),
    );
    assert_eq!(kinds(&recs), ["duplicate_report"]);
    // a lower filled, or a lower seq
    let recs = apply(
        &mut led,
        &batch(&[
            report(7, "a", "open", "3", "100.0", "null", "k3"),
            report(4, "a", "open", "6", "100.0", "null", "k4"),
        ]),
    );
    assert_eq!(kinds(&recs), ["stale_report", "stale_report"]);
    assert_eq!(
        recs[0].get("seq"),
        Some(&LValue::Int(4)),
        "applied in seq order"
    );
    assert_eq!(recs[0].get("level"), Some(&LValue::from("WARNING")));
    assert!(led.snapshot() == before);
}

#[test]
fn a_fill_before_the_accept_implies_it() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[submit(1, "a", "2.5", "market", "null", false)]),
    );
    let recs = apply(
        &mut led,
        &batch(&[report(2, "a", "open", "1.0", "10.0", "null", "k1")]),
    );
    assert_eq!(
        kinds(&recs),
        [
            "implied_accept",
            "Submitted->Accepted",
            "fill",
            "Accepted->Partial",
            "notification"
        ]
    );
    assert_eq!(recs[1].get("implied"), Some(&LValue::Bool(true)));
    assert_eq!(order_field(&led, "a", "filled"), LValue::Float(1.0));
}

#[test]
fn overfill_unknown_and_terminal_orders_are_refused() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[
            submit(1, "a", "3", "market", "null", false),
            accept(2, "a", "X1"),
        ]),
    );
    let before = led.snapshot();
    let recs = apply(
        &mut led,
        &batch(&[
            report(3, "a", "open", "4", "10.0", "null", "k1"),
            report(4, "zz", "open", "1", "10.0", "null", "k2"),
            r#"{"type": "cancel_ack", "seq": 5, "order": "zz"}"#.to_owned(),
        ]),
    );
    assert_eq!(kinds(&recs), ["overfill", "unknown_order", "unknown_order"]);
    assert!(led.snapshot() == before);
    apply(
        &mut led,
        &batch(&[r#"{"type": "reject", "seq": 6, "order": "a", "margin": false}"#.to_owned()]),
    );
    assert_eq!(order_field(&led, "a", "status"), LValue::from("Rejected"));
    let recs = apply(
        &mut led,
        &batch(&[
            accept(7, "a", "X1"),
            r#"{"type": "cancel_request", "seq": 8, "order": "a"}"#.to_owned(),
            r#"{"type": "submit", "seq": 9, "order": "a", "data": 0, "side": "sell", "size": 1, "exectype": "market", "price": null, "sim": true}"#.to_owned(),
        ]),
    );
    assert_eq!(
        kinds(&recs),
        ["terminal_order", "terminal_order", "illegal_transition"]
    );
}

#[test]
fn a_late_fill_on_a_canceled_order_is_booked() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[
            submit(1, "a", "5", "limit", "10.0", false),
            accept(2, "a", "X1"),
            report(3, "a", "open", "2", "10.0", "null", "k1"),
            r#"{"type": "cancel_ack", "seq": 4, "order": "a"}"#.to_owned(),
        ]),
    );
    assert_eq!(order_field(&led, "a", "status"), LValue::from("Canceled"));
    let recs = apply(
        &mut led,
        &batch(&[report(5, "a", "canceled", "3", "10.0", "null", "k2")]),
    );
    assert_eq!(kinds(&recs), ["late_fill", "fill", "notification"]);
    assert_eq!(recs[0].get("level"), Some(&LValue::from("INFO")));
    assert_eq!(order_field(&led, "a", "filled"), LValue::Int(3));
    assert_eq!(order_field(&led, "a", "status"), LValue::from("Canceled"));
    // the same status without new fills is a duplicate; another status is stale
    let recs = apply(
        &mut led,
        &batch(&[
            report(6, "a", "canceled", "3", "10.0", "null", "k3"),
            report(7, "a", "closed", "3", "10.0", "null", "k4"),
        ]),
    );
    assert_eq!(kinds(&recs), ["duplicate_report", "stale_report"]);
}

#[test]
fn simulated_orders_match_on_bars() {
    let mut led = Ledger::new(Num::Float(1000.0), Num::Float(0.001), true).expect("a ledger");
    apply(
        &mut led,
        &batch(&[
            submit(1, "m", "2", "market", "null", true),
            submit(2, "l", "1.5", "limit", "95", true),
            submit(3, "c", "1", "limit", "50", true),
            r#"{"type": "cancel_request", "seq": 4, "order": "c"}"#.to_owned(),
        ]),
    );
    let bar = r#"[{"type": "bar", "seq": 5, "data": 0, "ts": 60, "open": 100, "high": 101, "low": 94.5, "close": 99.5}]"#;
    let recs = apply(&mut led, bar);
    assert_eq!(
        kinds(&recs),
        [
            "Submitted->Accepted",
            "fill",
            "Accepted->Completed",
            "notification",
            "Submitted->Accepted",
            "fill",
            "Accepted->Completed",
            "notification",
            "Submitted->Canceled",
            "notification"
        ]
    );
    let f = fills(&recs);
    // the market order at the open (a float), the limit at its price (low <= price < open)
    assert_eq!(f[0].get("price"), Some(&LValue::Float(100.0)));
    assert_eq!(f[0].get("size"), Some(&LValue::Int(2)));
    assert_eq!(
        f[0].get("fee"),
        Some(&LValue::Float((2.0_f64 * 100.0).abs() * 0.001))
    );
    assert_eq!(f[1].get("price"), Some(&LValue::Float(95.0)));
    assert_eq!(f[1].get("ts"), Some(&LValue::Int(60)));
    // Position.update: (100.0 * 2 + 1.5 * 95.0) / 3.5
    assert_eq!(
        f[1].get("position_price"),
        Some(&LValue::Float((100.0 * 2.0 + 1.5 * 95.0) / 3.5))
    );
    assert_eq!(f[1].get("position_size"), Some(&LValue::Float(3.5)));
    let state = led.state().expect("a state");
    let cash = 1000.0 - 2.0 * 100.0 - 0.2 - 1.5 * 95.0 - (1.5_f64 * 95.0).abs() * 0.001;
    assert_eq!(state.get("cash"), Some(&LValue::Float(cash)));
    // valued at the bar's close
    assert_eq!(state.get("value"), Some(&LValue::Float(cash + 3.5 * 99.5)));
}

#[test]
fn pnl_follows_position_update_with_python_types() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[
            submit(1, "b", "2", "market", "null", true),
            r#"{"type": "submit", "seq": 2, "order": "s", "data": 0, "side": "sell", "size": 2, "exectype": "market", "price": null, "sim": true}"#.to_owned(),
        ]),
    );
    let recs = apply(
        &mut led,
        r#"[{"type": "bar", "seq": 3, "data": 0, "ts": 1, "open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0}]"#,
    );
    let f = fills(&recs);
    // opening: closed = 0 (int) -> -0 * (10.0 - 0.0) == 0.0
    assert_eq!(f[0].get("pnl"), Some(&LValue::Float(0.0)));
    // closing all: closed = signed = -2 -> 2 * (10.0 - 10.0) == 0.0; position price 0.0
    assert_eq!(f[1].get("pnl"), Some(&LValue::Float(0.0)));
    assert_eq!(f[1].get("position_size"), Some(&LValue::Int(0)));
    assert_eq!(f[1].get("position_price"), Some(&LValue::Float(0.0)));
    // a sell from flat at a loss-free price: closed = 0 -> -0 * ... stays +0.0; a short closed
    // by a buy at a higher price gives -closed * (price - oldprice) with closed = 2
    apply(
        &mut led,
        &batch(&[r#"{"type": "submit", "seq": 4, "order": "s2", "data": 0, "side": "sell", "size": 2.0, "exectype": "market", "price": null, "sim": true}"#.to_owned()]),
    );
    apply(
        &mut led,
        r#"[{"type": "bar", "seq": 5, "data": 0, "ts": 1, "open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0}]"#,
    );
    apply(
        &mut led,
        &batch(&[submit(6, "b2", "2.0", "market", "null", true)]),
    );
    let recs = apply(
        &mut led,
        r#"[{"type": "bar", "seq": 7, "data": 0, "ts": 1, "open": 12.5, "high": 12.5, "low": 12.5, "close": 12.5}]"#,
    );
    let f = fills(&recs);
    assert_eq!(
        f[0].get("pnl"),
        Some(&LValue::Float(-(2.0 * (12.5 - 10.0))))
    );
    // adding to a long at a lower price: closed = 0 (an int), -0 * (8.0 - 10.0) == -0.0
    apply(
        &mut led,
        &batch(&[submit(8, "b3", "2", "market", "null", true)]),
    );
    apply(
        &mut led,
        r#"[{"type": "bar", "seq": 9, "data": 0, "ts": 1, "open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0}]"#,
    );
    apply(
        &mut led,
        &batch(&[submit(10, "b4", "2", "market", "null", true)]),
    );
    let recs = apply(
        &mut led,
        r#"[{"type": "bar", "seq": 11, "data": 0, "ts": 1, "open": 8.0, "high": 8.0, "low": 8.0, "close": 8.0}]"#,
    );
    let f = fills(&recs);
    assert_eq!(f[0].get("pnl"), Some(&LValue::Float(-0.0)));
    // (the earlier float sizes made the position size a float)
    assert_eq!(f[0].get("position_size"), Some(&LValue::Float(4.0)));
    assert_eq!(f[0].get("position_price"), Some(&LValue::Float(9.0)));
}

#[test]
fn snapshot_restore_round_trip() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[
            submit(1, "a", "10", "limit", "100.0", false),
            accept(2, "a", "X1"),
            report(3, "a", "open", "4", "100.0", "0.4", "k1"),
            submit(4, "b", "1", "market", "null", true),
        ]),
    );
    apply(
        &mut led,
        r#"[{"type": "bar", "seq": 5, "data": 0, "ts": 1, "open": 101.0, "high": 102.0, "low": 100.0, "close": 101.5}]"#,
    );
    let snap = led.snapshot();
    let mut back = Ledger::restore(&snap).expect("a valid snapshot");
    assert!(back.snapshot() == snap);
    assert!(back.state().expect("a state") == led.state().expect("a state"));
    // the exchange id is known again: a report by id finds the order
    let by_id = r#"[{"type": "report", "seq": 6, "order": null, "order_id": "X1", "status": "open", "filled": 5, "average": null, "cost": 500.0, "last_price": null, "last_size": null, "fee": null, "ts": null, "key": "k9"}]"#;
    let a = apply(&mut led, by_id);
    let b = apply(&mut back, by_id);
    assert_eq!(a, b);
    assert_eq!(kinds(&a), ["fill", "Partial->Partial", "notification"]);
    // and the keys: k1 again is a duplicate
    let again = batch(&[report(7, "a", "open", "6", "100.0", "null", "k1")]);
    assert_eq!(kinds(&apply(&mut back, &again)), ["duplicate_report"]);
}

#[test]
fn an_unknown_snapshot_version_is_refused() {
    let led = ledger(false);
    let LValue::Dict(mut items) = led.snapshot() else {
        panic!("a dict")
    };
    items[0].1 = LValue::Int(2);
    let err = Ledger::restore(&LValue::Dict(items.clone())).expect_err("refused");
    let LedgerError::Input(err) = err else {
        panic!("an input error")
    };
    assert_eq!(
        (err.what.as_str(), err.field.as_str(), err.reason.as_str()),
        (
            "snapshot",
            "version",
            "unknown snapshot version (this core reads 1)"
        )
    );
    assert_eq!(err.value, LValue::Int(2));
    // 1.0 and True are not the version either
    for bad in [LValue::Float(1.0), LValue::Bool(true)] {
        items[0].1 = bad;
        assert!(Ledger::restore(&LValue::Dict(items.clone())).is_err());
    }
}

fn input_error(led: &mut Ledger, events: &str) -> (String, String, String, LValue) {
    match led.apply(&parse(events)) {
        Err(LedgerError::Input(e)) => (e.what, e.field, e.reason, e.value),
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn input_errors_leave_the_state_untouched() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[submit(1, "a", "10", "market", "null", false)]),
    );
    let before = led.snapshot();
    let good = accept(2, "a", "X1");
    let cases: [(String, (&str, &str, &str)); 8] = [
        (
            batch(&[good.clone(), r#"{"type": "accept", "seq": 3}"#.to_owned()]),
            ("accept", "order", "missing"),
        ),
        (
            batch(&[good.clone(), r#"{"seq": 3}"#.to_owned()]),
            ("event", "type", "missing"),
        ),
        (
            batch(&[good, "7".to_owned()]),
            ("event", "event", "not a dict"),
        ),
        (
            batch(&[r#"{"type": "fill", "seq": 3}"#.to_owned()]),
            (
                "event",
                "type",
                "expected one of submit, accept, reject, cancel_request, cancel_ack, expire, report, bar",
            ),
        ),
        (
            batch(&[r#"{"type": "expire", "seq": true, "order": "a"}"#.to_owned()]),
            ("expire", "seq", "not an int"),
        ),
        (
            batch(&[r#"{"type": "expire", "seq": 9223372036854775808, "order": "a"}"#.to_owned()]),
            ("expire", "seq", "out of range"),
        ),
        (
            batch(&[r#"{"type": "expire", "seq": 3, "order": "a", "extra": [1]}"#.to_owned()]),
            ("expire", "extra", "unknown field"),
        ),
        (
            batch(&[r#"{"type": "report", "seq": 3, "order": "a", "order_id": null, "status": "open", "filled": 1, "average": null, "cost": null, "last_price": null, "last_size": null, "fee": null, "ts": null, "key": "k"}"#.to_owned()]),
            ("report", "average", "a report with fills needs average or cost"),
        ),
    ];
    for (events, (what, field, reason)) in cases {
        let got = input_error(&mut led, &events);
        assert_eq!(
            (got.0.as_str(), got.1.as_str(), got.2.as_str()),
            (what, field, reason),
            "{events}"
        );
        assert!(led.snapshot() == before, "{events}");
    }
    // values: the offending one, None for a missing field
    let got = input_error(
        &mut led,
        r#"[{"type": "bar", "seq": 3, "data": 0, "ts": 1, "open": -0.0, "high": 1, "low": 1, "close": 1}]"#,
    );
    assert_eq!((got.2.as_str(), got.3), ("not > 0", LValue::Float(-0.0)));
    // a non-str key is an unknown field named by str(key) (the bindings compute it)
    let events = LValue::List(vec![LValue::Dict(vec![
        ("type".into(), "expire".into()),
        ("seq".into(), LValue::Int(3)),
        ("order".into(), "a".into()),
        (LValue::Int(5), "v".into()),
    ])]);
    let Err(LedgerError::Input(err)) = led.apply(&events) else {
        panic!("refused")
    };
    assert_eq!((err.field.as_str(), err.field_from_key), ("5", true));
    assert_eq!(err.event_index(), Some(0));
    // not a list
    let Err(LedgerError::Input(err)) = led.apply(&LValue::Other) else {
        panic!("refused")
    };
    assert_eq!(
        (err.what.as_str(), err.reason.as_str()),
        ("events", "not a list")
    );
    assert!(led.snapshot() == before);
}

#[test]
fn constructor_checks() {
    let bad =
        |cash: LValue, fee: LValue, strict: LValue| match Ledger::new_raw(&cash, &fee, &strict) {
            Err(LedgerError::Input(e)) => (e.field, e.reason),
            _ => panic!("accepted"),
        };
    assert_eq!(
        bad(LValue::Bool(true), LValue::Float(0.0), LValue::Bool(false)),
        ("cash".to_owned(), "not a number".to_owned())
    );
    assert_eq!(
        bad(LValue::Float(1.0), LValue::Float(-0.5), LValue::Bool(false)),
        ("fee_rate".to_owned(), "negative".to_owned())
    );
    assert_eq!(
        bad(
            LValue::Float(f64::NAN),
            LValue::Float(0.0),
            LValue::Bool(false)
        ),
        ("cash".to_owned(), "not finite".to_owned())
    );
    assert_eq!(
        bad(LValue::Int(1), LValue::Int(0), LValue::Int(1)),
        ("strict".to_owned(), "not a bool".to_owned())
    );
    // an int cash becomes a float, as float(cash) does
    let led =
        Ledger::new_raw(&LValue::Int(5), &LValue::Int(0), &LValue::Bool(false)).expect("a ledger");
    assert_eq!(led.snapshot().get("cash"), Some(&LValue::Float(5.0)));
    assert_eq!(led.snapshot().get("fee_rate"), Some(&LValue::Float(0.0)));
}

#[test]
fn strict_mode_finds_a_broken_restored_state() {
    let mut led = ledger(true);
    apply(
        &mut led,
        &batch(&[
            submit(1, "a", "3", "market", "null", false),
            accept(2, "a", "X"),
        ]),
    );
    let text = ledger_json::show(&led.snapshot());
    assert!(text.contains("'filled': 0"));
    let LValue::Dict(mut items) = led.snapshot() else {
        panic!("a dict")
    };
    let Some((_, LValue::List(orders))) =
        items.iter_mut().find(|(k, _)| k.as_str() == Some("orders"))
    else {
        panic!("orders")
    };
    let LValue::Dict(order) = &mut orders[0] else {
        panic!("an order")
    };
    for (k, v) in order.iter_mut() {
        if k.as_str() == Some("filled") {
            *v = LValue::Float(5.0);
        }
    }
    let mut broken = Ledger::restore(&LValue::Dict(items)).expect("types are fine");
    let err = broken
        .apply(&parse(
            r#"[{"type": "bar", "seq": 3, "data": 1, "ts": 1, "open": 1, "high": 1, "low": 1, "close": 1}]"#,
        ))
        .expect_err("strict mode refuses");
    assert_eq!(
        err,
        LedgerError::Invariant("ledger invariant broken: order a filled 5.0 of 3".to_owned())
    );
}

#[test]
fn the_transition_matrix() {
    let targets = |s: &str| {
        LEDGER_TRANSITIONS
            .iter()
            .find(|(state, _)| *state == s)
            .map(|(_, t)| t.to_vec())
            .unwrap_or_default()
    };
    assert_eq!(targets("Created"), ["Submitted"]);
    assert_eq!(
        targets("Partial"),
        ["Partial", "Completed", "Canceled", "Expired"]
    );
    assert!(targets("Completed").is_empty());
    assert_eq!(Ledger::transitions().len(), 9);
}
