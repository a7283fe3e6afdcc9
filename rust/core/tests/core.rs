//! The core's public API on hand-made scenarios. Every expected number was produced by the
//! Python reference core (`bt_cracktrader.core.pycore.PyCore`) on the same input.

use cracktrader_core::{
    Bar, CommSpec, Core, CoreError, ErrValue, Event, Execution, Num, Origin, RawItem, Record,
    Snapshot, State, Value,
};

fn f(v: f64) -> Num {
    Num::Float(v)
}

fn i(v: i128) -> Num {
    Num::Int(v)
}

/// `(EV_DATA, 0, True, True, 0.001, 1.0, 0.0, 0.0, 1.0)`
fn stock(data: usize) -> Event {
    Event::Data {
        data,
        comm: CommSpec {
            stocklike: true,
            perc: true,
            commission: f(0.001),
            mult: f(1.0),
            margin: f(0.0),
            automargin: f(0.0),
            leverage: f(1.0),
        },
    }
}

fn submit(oref: u64, data: usize, size: Num, price: f64, created_dt: f64, check: bool) -> Event {
    Event::Submit {
        oref,
        data,
        size,
        price: f(price),
        created_dt: f(created_dt),
        exectype: 0,
        check,
    }
}

/// `(data, dt, o, o + 1, o - 1, c, 1000.0, c)`
fn bar(data: usize, dt: f64, open: f64, close: f64) -> Bar {
    Bar {
        data,
        dt: f(dt),
        open: f(open),
        high: f(open + 1.0),
        low: f(open - 1.0),
        close: f(close),
        volume: f(1000.0),
        mark: f(close),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one argument per record field group"
)]
fn executed(
    oref: u64,
    dt: f64,
    size: Num,
    price: f64,
    closed: (Num, Num, Num),
    opened: (Num, Num, Num),
    pnl: Num,
    pos: (Num, Num),
) -> Record {
    Record::Executed(Box::new(Execution {
        oref,
        dt: f(dt),
        size,
        price: f(price),
        closed: closed.0,
        closedvalue: closed.1,
        closedcomm: closed.2,
        opened: opened.0,
        openedvalue: opened.1,
        openedcomm: opened.2,
        pnl,
        psize: pos.0,
        pprice: pos.1,
        position_size: pos.0,
        position_price: pos.1,
    }))
}

fn state(figures: [Num; 9], idle: bool) -> State {
    let [cash, value, valuemkt, valuelever, valuemktlever, fundvalue, fundshares, leverage, unrealized] =
        figures;
    State {
        cash,
        value,
        valuemkt,
        valuelever,
        valuemktlever,
        fundvalue,
        fundshares,
        leverage,
        unrealized,
        idle,
    }
}

#[test]
fn stock_buy_then_reversal_with_int_cash() {
    // PyCore(10000, True, True, 100): int cash stays an int until a trade touches it
    let mut core = Core::new(i(10000), true, true, i(100)).unwrap();
    assert_eq!(
        core.state(),
        state(
            [
                i(10000),
                i(10000),
                f(0.0),
                f(0.0),
                f(0.0),
                i(100),
                f(100.0),
                f(1.0),
                f(0.0)
            ],
            true
        )
    );
    let records = core
        .step(
            &[stock(0), submit(1, 0, i(10), 100.0, 1.0, true)],
            &[bar(0, 1.0, 99.0, 100.0)],
        )
        .unwrap();
    assert_eq!(records, vec![Record::Accepted { oref: 1 }]);
    assert_eq!(
        core.state(),
        state(
            [
                i(10000),
                f(10000.0),
                f(0.0),
                f(10000.0),
                f(0.0),
                f(100.0),
                f(100.0),
                f(0.0),
                f(0.0)
            ],
            false
        )
    );

    let records = core.step(&[], &[bar(0, 2.0, 101.0, 102.5)]).unwrap();
    assert_eq!(
        records,
        vec![executed(
            1,
            2.0,
            i(10),
            101.0,
            (i(0), f(0.0), f(0.0)),
            (i(10), f(1010.0), f(1.01)),
            f(0.0),
            (i(10), f(101.0)),
        )]
    );
    assert_eq!(
        core.state(),
        state(
            [
                f(8988.99),
                f(10013.99),
                f(1025.0),
                f(10013.99),
                f(1025.0),
                f(100.1399),
                f(100.0),
                f(1.0),
                f(15.0)
            ],
            false
        )
    );

    // created on this bar's dt: accepted, not executed
    let records = core
        .step(
            &[submit(2, 0, f(-25.5), 102.5, 2.0, true)],
            &[bar(0, 2.0, 101.0, 102.5)],
        )
        .unwrap();
    assert_eq!(records, vec![Record::Accepted { oref: 2 }]);

    // a float sell of 25.5 closes the int 10 and opens -15.5
    let records = core.step(&[], &[bar(0, 3.0, 103.25, 99.75)]).unwrap();
    let Record::Executed(x) = &records[0] else {
        panic!("not executed: {records:?}");
    };
    assert_eq!(
        **x,
        Execution {
            oref: 2,
            dt: f(3.0),
            size: f(-25.5),
            price: f(103.25),
            closed: i(-10),
            closedvalue: f(1010.0),
            closedcomm: f(1.0325),
            opened: f(-15.5),
            openedvalue: f(-1600.375),
            openedcomm: f(1.600_374_999_999_999_9),
            pnl: f(22.5),
            psize: f(-15.5),
            pprice: f(103.25),
            position_size: f(-15.5),
            position_price: f(103.25),
        }
    );
    let after = state(
        [
            f(11619.232125),
            f(10073.107125),
            f(-1546.125),
            f(10073.107125),
            f(-1546.125),
            f(100.731_071_25),
            f(100.0),
            f(1.0),
            f(54.25),
        ],
        false,
    );
    assert_eq!(core.state(), after);
    // one data: its raw value (negative for a short); the cached figures stay
    assert_eq!(
        core.value_of(&[0], &[f(99.75)], false).unwrap(),
        f(-1546.125)
    );
    assert_eq!(
        core.value_of(&[0], &[f(99.75)], true).unwrap(),
        f(-1546.125)
    );
    assert_eq!(core.state(), after);
}

#[test]
fn futures_automargin_reversal_and_daily_cash_adjustment() {
    // (EV_DATA, 1, False, False, 2.0, 10.0, 0.0, 0.5, 1.0)
    let futa = Event::Data {
        data: 1,
        comm: CommSpec {
            stocklike: false,
            perc: false,
            commission: f(2.0),
            mult: f(10.0),
            margin: f(0.0),
            automargin: f(0.5),
            leverage: f(1.0),
        },
    };
    let mut core = Core::new(f(5000.0), true, true, f(100.0)).unwrap();
    let r = core.step(
        &[futa, submit(1, 1, i(3), 20.0, 1.0, true)],
        &[bar(1, 1.0, 20.0, 20.0)],
    );
    assert_eq!(r.unwrap(), vec![Record::Accepted { oref: 1 }]);
    let r = core.step(&[], &[bar(1, 2.0, 20.5, 19.25)]).unwrap();
    assert_eq!(
        r,
        vec![executed(
            1,
            2.0,
            i(3),
            20.5,
            (i(0), f(0.0), f(0.0)),
            (i(3), f(30.75), f(6.0)),
            f(0.0),
            (i(3), f(20.5)),
        )]
    );
    assert_eq!(core.state().cash, f(4925.75));
    assert_eq!(core.state().unrealized, f(-37.5));
    // without the submit check: straight to pending; reversal -8 = close 3 + open -5
    let r = core.step(
        &[submit(2, 1, i(-8), 19.25, 2.0, false)],
        &[bar(1, 3.0, 19.0, 18.5)],
    );
    assert_eq!(
        r.unwrap(),
        vec![executed(
            2,
            3.0,
            i(-8),
            19.0,
            (i(-3), f(30.75), f(6.0)),
            (i(-5), f(47.5), f(10.0)),
            f(-45.0),
            (i(-5), f(19.0)),
        )]
    );
    let r = core.step(
        &[submit(3, 1, i(40), 18.5, 3.0, false)],
        &[bar(1, 4.0, 18.0, 18.75)],
    );
    assert_eq!(
        r.unwrap(),
        vec![executed(
            3,
            4.0,
            i(40),
            18.0,
            (i(5), f(47.5), f(10.0)),
            (i(35), f(315.0), f(70.0)),
            f(50.0),
            (i(35), f(18.0)),
        )]
    );
    assert_eq!(
        core.state(),
        state(
            [
                f(4850.5),
                f(5178.625),
                f(328.125),
                f(5178.625),
                f(328.125),
                f(103.5725),
                f(50.0),
                f(1.0),
                f(262.5)
            ],
            false
        )
    );
}

#[test]
fn margin_at_execution_after_the_closing_part() {
    // shortcash=False, checksubmit=False: the closing part executes, the opening part cannot
    // be paid: EXECUTED then MARGIN, and the order is done.
    let mut core = Core::new(f(1000.0), false, false, f(100.0)).unwrap();
    let r = core.step(
        &[stock(0), submit(1, 0, i(-5), 100.0, 1.0, false)],
        &[bar(0, 2.0, 100.0, 100.0)],
    );
    assert_eq!(
        r.unwrap(),
        vec![executed(
            1,
            2.0,
            i(-5),
            100.0,
            (i(0), f(0.0), f(0.0)),
            (i(-5), f(500.0), f(0.5)),
            f(0.0),
            (i(-5), f(100.0)),
        )]
    );
    let r = core.step(
        &[submit(2, 0, i(20), 100.0, 2.0, false)],
        &[bar(0, 3.0, 110.0, 110.0)],
    );
    let expected_exec = Record::Executed(Box::new(Execution {
        oref: 2,
        dt: f(3.0),
        size: i(5),
        price: f(110.0),
        closed: i(5),
        closedvalue: f(500.0),
        closedcomm: f(0.55),
        opened: i(0),
        openedvalue: f(0.0),
        openedcomm: f(0.0),
        pnl: f(-50.0),
        psize: i(15),
        pprice: f(110.0),
        position_size: i(0),
        position_price: f(0.0),
    }));
    assert_eq!(r.unwrap(), vec![expected_exec, Record::Margin { oref: 2 }]);
    let idle = state(
        [
            f(948.95),
            f(948.95),
            f(0.0),
            f(948.95),
            f(0.0),
            f(94.895_000_000_000_01),
            f(10.0),
            f(0.0),
            f(0.0),
        ],
        true,
    );
    assert_eq!(core.state(), idle);
    assert_eq!(
        core.step(&[], &[bar(0, 4.0, 110.0, 111.0)]).unwrap(),
        vec![]
    );
    assert_eq!(core.state(), idle);
    // the done ref cannot be reused nor cancelled
    assert!(core
        .step(
            &[submit(2, 0, i(1), 1.0, 1.0, true)],
            &[bar(0, 5.0, 1.0, 1.0)]
        )
        .is_err());
    assert!(core.apply(&[Event::Cancel { oref: 2 }]).is_err());
}

fn raw(values: &[Value]) -> RawItem {
    RawItem::from_values(values)
}

fn vi(v: i128) -> Value {
    Value::Int(v)
}

fn vf(v: f64) -> Value {
    Value::Float(v)
}

fn raw_bar(data: i128, dt: f64, price: f64) -> RawItem {
    raw(&[
        vi(data),
        vf(dt),
        vf(price),
        vf(price + 1.0),
        vf(price - 1.0),
        vf(price),
        vf(1000.0),
        vf(price),
    ])
}

fn raw_stock(data: i128) -> RawItem {
    raw(&[
        vi(0),
        vi(data),
        Value::Bool(true),
        Value::Bool(true),
        vf(0.001),
        vf(1.0),
        vf(0.0),
        vf(0.0),
        vf(1.0),
    ])
}

fn raw_submit(oref: i128, size: Value, exectype: Value) -> RawItem {
    raw(&[
        vi(2),
        vi(oref),
        vi(0),
        size,
        vf(1.0),
        vf(1.0),
        exectype,
        Value::Bool(true),
    ])
}

fn message(err: &CoreError) -> String {
    match err {
        CoreError::Input(input) => input.to_string(),
        other => panic!("not an input error: {other:?}"),
    }
}

#[test]
fn refused_input_has_the_python_messages_and_leaves_the_state_alone() {
    let mut core = Core::new(f(10000.0), true, true, f(100.0)).unwrap();
    core.step_raw(
        &[raw_stock(0), raw_submit(7, vi(3), vi(0))],
        &[raw_bar(0, 1.0, 50.0)],
    )
    .unwrap();
    let before = core.snapshot();
    let bar2 = raw_bar(0, 2.0, 50.0);
    let nan = Value::Float(f64::NAN);
    let cases: Vec<(Vec<RawItem>, Vec<RawItem>, &str)> = vec![
        (
            vec![raw_stock(0), raw_submit(1, nan, vi(0))],
            vec![bar2],
            "invalid submit event #1: size = nan (not finite)",
        ),
        (
            vec![raw_submit(7, vi(1), vi(0))],
            vec![bar2],
            "invalid submit event #0: ref = 7 (duplicate order ref)",
        ),
        (
            vec![raw(&[vi(3), vi(8)])],
            vec![bar2],
            "invalid cancel event #0: ref = 8 (unknown order ref)",
        ),
        (
            vec![
                raw_submit(8, vi(1), vi(0)),
                raw(&[vi(3), vi(8)]),
                raw(&[vi(3), vi(8)]),
            ],
            vec![bar2],
            "invalid cancel event #2: ref = 8 (unknown order ref)",
        ),
        (
            vec![raw(&[vi(1), vi(0), vi(0)])],
            vec![bar2],
            "invalid position event #0: length = 3 (expected 2)",
        ),
        (
            vec![raw(&[Value::Bool(true), vi(0)])],
            vec![bar2],
            "invalid event #0: tag = True (unknown event tag)",
        ),
        (
            vec![raw(&[])],
            vec![],
            "invalid event #0: tag = None (unknown event tag)",
        ),
        (
            vec![RawItem::not_tuple(Some(2))],
            vec![],
            "invalid event #0: tag = None (unknown event tag)",
        ),
        (
            vec![],
            vec![],
            "invalid bars: data = 0 (no bar for a registered data)",
        ),
        (
            vec![],
            vec![bar2, bar2],
            "invalid bar #1: data = 0 (duplicate bar)",
        ),
        (
            vec![],
            vec![raw(&[
                vi(0),
                vf(2.0),
                Value::None,
                vf(1.0),
                vf(1.0),
                vf(1.0),
                vf(1.0),
                vf(1.0),
            ])],
            "invalid bar #0: open = None (not a number)",
        ),
        (
            vec![],
            vec![raw(&[vi(0), vf(2.0), vf(1.0)])],
            "invalid bar #0: length = 3 (expected 8)",
        ),
        (
            vec![],
            vec![RawItem::not_tuple(Some(8))],
            "invalid bar #0: length = 8 (expected 8)",
        ),
        (
            vec![raw_stock(1)],
            vec![bar2],
            "invalid bars: data = 1 (no bar for a registered data)",
        ),
        (
            vec![raw_submit(9, vi((1 << 53) + 1), vi(0))],
            vec![bar2],
            "invalid submit event #0: size = 9007199254740993 (int beyond 2**53)",
        ),
        (
            vec![raw_submit(9, vi(1), vf(-0.0))],
            vec![bar2, raw_bar(5, 2.0, 1.0)],
            "invalid bar #1: data = 5 (unknown data)",
        ),
        (
            vec![raw_submit(9, vi(1), vi(1))],
            vec![bar2],
            "invalid submit event #0: exectype = 1 (unsupported exectype)",
        ),
        (
            vec![raw(&[vi(4), vi(1), Value::Bool(true)])],
            vec![],
            "invalid config event #0: checksubmit = 1 (not a bool)",
        ),
        (
            vec![raw(&[vi(5), vf(f64::INFINITY)])],
            vec![],
            "invalid set_cash event #0: cash = inf (not finite)",
        ),
        (
            vec![raw(&[
                vi(0),
                vi(0),
                Value::Bool(true),
                Value::Bool(true),
                vf(0.001),
                vf(1.0),
                vf(0.0),
                vf(0.0),
                vi(-1),
            ])],
            vec![],
            "invalid data event #0: leverage = -1 (not positive)",
        ),
    ];
    for (events, bars, expected) in cases {
        let err = core.step_raw(&events, &bars).unwrap_err();
        assert_eq!(message(&err), expected);
        assert_eq!(core.snapshot(), before, "state changed by: {expected}");
    }
    // the origin of an offending item is reported
    let err = core
        .step_raw(&[raw_stock(0), raw_submit(1, nan, vi(0))], &[bar2])
        .unwrap_err();
    let CoreError::Input(input) = err else {
        panic!("not an input error");
    };
    assert_eq!(input.origin, Some(Origin::Event { index: 1, item: 3 }));
    // a bar that is no tuple and has no length: Python's len() raises
    assert_eq!(
        core.step_raw(&[], &[RawItem::not_tuple(None)]).unwrap_err(),
        CoreError::NoLen { bar: 0 }
    );
    // an int size beyond 128 bits is refused as beyond 2**53; beyond a float, as Python does
    let big = Value::BigInt {
        negative: false,
        float_overflow: false,
    };
    let err = core
        .step_raw(&[raw_submit(9, big, vi(0))], &[bar2])
        .unwrap_err();
    assert_eq!(
        message(&err),
        "invalid submit event #0: size = <int beyond 2**127> (int beyond 2**53)"
    );
    let huge = Value::BigInt {
        negative: false,
        float_overflow: true,
    };
    let err = core
        .step_raw(&[raw_submit(9, huge, vi(0))], &[bar2])
        .unwrap_err();
    assert_eq!(
        err,
        CoreError::IntToFloat(Origin::Event { index: 0, item: 3 })
    );
    assert_eq!(core.snapshot(), before);
    // nothing of the refused batches was applied: the accepted order still fills
    let records = core.step(&[], &[bar(0, 3.0, 52.0, 52.0)]).unwrap();
    assert!(matches!(&records[..], [Record::Executed(x)] if x.oref == 7));
}

#[test]
fn constructor_and_value_request_checks() {
    let msg = |args: [Value; 4]| message(&Core::new_raw(args).unwrap_err());
    let t = Value::Bool(true);
    assert_eq!(
        msg([vf(f64::NAN), t, t, vf(100.0)]),
        "invalid broker: cash = nan (not finite)"
    );
    assert_eq!(
        msg([vf(1.0), t, t, vi(0)]),
        "invalid broker: fundstartval = 0 (zero)"
    );
    assert_eq!(
        msg([vf(1.0), vi(1), t, vf(100.0)]),
        "invalid broker: checksubmit = 1 (not a bool)"
    );
    assert_eq!(
        msg([vf(1.0), t, t, vf(-0.0)]),
        "invalid broker: fundstartval = -0.0 (zero)"
    );

    let mut core = Core::new(f(10000.0), true, true, f(100.0)).unwrap();
    core.step(
        &[stock(0), submit(7, 0, i(3), 50.0, 1.0, true)],
        &[bar(0, 1.0, 50.0, 50.0)],
    )
    .unwrap();
    core.step(&[], &[bar(0, 2.0, 50.0, 50.0)]).unwrap();
    let mut vmsg = |datas: &[Value], closes: &[Value]| {
        message(&core.value_of_raw(datas, closes, false).unwrap_err())
    };
    assert_eq!(
        vmsg(&[], &[]),
        "invalid value request: datas = [] (empty or unmatched)"
    );
    assert_eq!(
        vmsg(&[vi(0)], &[]),
        "invalid value request: datas = [0] (empty or unmatched)"
    );
    assert_eq!(
        vmsg(&[vi(3)], &[vf(1.0)]),
        "invalid value request: data = 3 (unknown data)"
    );
    assert_eq!(
        vmsg(&[vi(0)], &[vf(f64::NAN)]),
        "invalid value request: close = nan (not finite)"
    );
    // a data is a dict key: False == 0 == 0.0 == -0.0
    assert_eq!(
        core.value_of_raw(&[Value::Bool(false)], &[vf(51.0)], false)
            .unwrap(),
        f(153.0)
    );
    assert_eq!(
        core.value_of_raw(&[vf(-0.0)], &[vf(49.0)], true).unwrap(),
        f(147.0)
    );
    // two datas: the partial total replaces the cached figures (last close of a data wins)
    assert_eq!(
        core.value_of_raw(&[vf(0.0), vi(0)], &[vf(50.0), vf(52.0)], true)
            .unwrap(),
        f(10161.85)
    );
    assert_eq!(
        core.state(),
        state(
            [
                f(9849.85),
                f(10161.85),
                f(312.0),
                f(10161.85),
                f(312.0),
                f(101.6185),
                f(100.0),
                f(1.0),
                f(12.0)
            ],
            false
        )
    );
    let err = core
        .value_of_raw(&[vf(0.5)], &[vf(1.0)], false)
        .unwrap_err();
    let CoreError::Input(input) = err else {
        panic!("not an input error");
    };
    assert_eq!(input.value, ErrValue::Float(0.5));
    assert_eq!(input.origin, Some(Origin::Data(0)));
}

#[test]
fn zero_cash_raises_zero_division_like_backbroker() {
    // PyCore(0.0): fund shares 0.0, the fund value of the first bar divides by it, after the
    // value was stored (ZeroDivisionError; the state is left as Python leaves it)
    let mut core = Core::new(f(0.0), true, true, f(100.0)).unwrap();
    let err = core
        .step(&[stock(0)], &[bar(0, 1.0, 1.0, 1.0)])
        .unwrap_err();
    assert_eq!(
        err,
        CoreError::ZeroDivision {
            dividend: f(0.0),
            divisor: f(0.0)
        }
    );
    assert_eq!(
        core.state(),
        state(
            [
                f(0.0),
                f(0.0),
                f(0.0),
                f(0.0),
                f(0.0),
                f(100.0),
                f(0.0),
                f(1.0),
                f(0.0)
            ],
            true
        )
    );
}

#[test]
fn cancel_removes_from_its_queue() {
    let mut core = Core::new(f(10000.0), true, true, f(100.0)).unwrap();
    core.apply(&[
        stock(0),
        submit(1, 0, i(1), 10.0, 1.0, true),
        submit(2, 0, i(2), 10.0, 1.0, false),
    ])
    .unwrap();
    // a submitted (unchecked) order can be cancelled by the core too
    core.apply(&[Event::Cancel { oref: 1 }, Event::Cancel { oref: 2 }])
        .unwrap();
    assert!(core.state().idle);
    assert_eq!(core.step(&[], &[bar(0, 2.0, 10.0, 10.0)]).unwrap(), vec![]);
    let snap = core.snapshot();
    assert!(snap.orders.is_empty() && snap.submitted.is_empty() && snap.pending.is_empty());
    assert_eq!(snap.done, vec![1, 2]);
}

#[test]
fn snapshot_round_trip_continues_identically() {
    let mut core = Core::new(f(50000.0), true, true, f(100.0)).unwrap();
    core.step(
        &[
            stock(0),
            submit(1, 0, i(10), 100.0, 1.0, true),
            submit(2, 0, f(2.5), 100.0, 9.0, false),
        ],
        &[bar(0, 1.0, 99.0, 100.0)],
    )
    .unwrap();
    core.step(&[], &[bar(0, 2.0, 101.0, 102.5)]).unwrap();
    let mut twin = Core::from_snapshot(core.snapshot()).unwrap();
    assert_eq!(twin.snapshot(), core.snapshot());
    for (k, (open, close)) in [(103.0, 99.5), (98.0, 98.25), (97.0, 105.0)]
        .into_iter()
        .enumerate()
    {
        let dt = 3.0 + k as f64 * 4.0;
        let events = [submit(10 + k as u64, 0, i(-7), close, dt, true)];
        let bars = [bar(0, dt + 1.0, open, close)];
        assert_eq!(core.step(&events, &bars), twin.step(&events, &bars));
        assert_eq!(core.state(), twin.state());
    }
    // an inconsistent snapshot is refused
    let mut bad: Snapshot = core.snapshot();
    bad.pending.push(999);
    assert!(matches!(
        Core::from_snapshot(bad),
        Err(CoreError::BadSnapshot(_))
    ));
}
