//! The core's typed API (no Python-like input), snapshots and errors raised mid-call. The
//! expected numbers follow the Python reference core (`bt_cracktrader.core.pycore.PyCore`): the
//! formulas below are written in its operation order.

mod common;

use common::{raw, record_items, records, state_items, vb, vf, vi, Item, TestHooks};
use cracktrader_core::{
    Bar, CommSpec, Config, Core, CoreError, Event, Execution, Num, OrderSpec, OrderState, RawItem,
    Record, Snapshot, Value, EXEC_LIMIT, EXEC_MARKET, EXEC_STOP, FILLER_CALLBACK,
};

fn f(v: f64) -> Num {
    Num::Float(v)
}

fn i(v: i128) -> Num {
    Num::int(v)
}

fn stock(data: usize) -> Event {
    Event::Data {
        data,
        comm: CommSpec::basic(true, true, f(0.001), f(1.0), f(0.0), f(0.0), f(1.0)),
    }
}

fn order(oref: u64, size: Num, exectype: u8, price: f64, created_dt: f64) -> OrderSpec {
    OrderSpec {
        oref,
        data: 0,
        isbuy: size.gt(i(0)),
        size,
        exectype,
        price: f(price),
        pricelimit: f(price),
        pclose: f(price),
        created_dt: f(created_dt),
        valid: f(0.0),
        dteos: f(created_dt),
        trailamount: f(0.0),
        trailpercent: f(0.0),
        limitoffset: f(0.0),
        parent: None,
        oco: None,
        transmit: true,
        check: true,
        coc: true,
        notified: false,
    }
}

/// `bar_tuple(data, dt, o, h, lo, c, 1000.0)`.
fn bar(data: usize, dt: f64, o: f64, h: f64, lo: f64, c: f64) -> Bar {
    Bar {
        data,
        dt: f(dt),
        open: f(o),
        high: f(h),
        low: f(lo),
        close: f(c),
        mark: f(c),
        volume: f(1000.0),
        rhigh: f(h),
        rlow: f(lo),
        pdt: f(dt),
        phigh: f(h),
        plow: f(lo),
        pvolume: f(1000.0),
        day: dt as i128,
    }
}

#[test]
fn market_buy_fills_next_bar_open_through_the_typed_api() {
    let mut core = Core::new(f(10000.0), true, true, f(100.0)).unwrap();
    let first = core
        .step(
            &[
                stock(0),
                Event::Submit(order(1, i(10), EXEC_MARKET, 100.0, 1.0)),
            ],
            &[bar(0, 1.0, 99.0, 101.0, 98.0, 100.0)],
        )
        .unwrap();
    assert_eq!(
        first,
        vec![
            Record::Submitted { oref: 1 },
            Record::Position { data: 0 },
            Record::Accepted { oref: 1 },
        ]
    );
    let second = core
        .step(&[], &[bar(0, 2.0, 101.0, 103.0, 100.0, 102.5)])
        .unwrap();
    // CommInfoBase: abs(size) * commission * price, left to right
    let comm = 10.0 * 0.001 * 101.0;
    assert_eq!(
        second,
        vec![Record::Executed(Execution {
            oref: 1,
            dt: f(2.0),
            size: i(10),
            price: f(101.0),
            closed: i(0),
            closedvalue: f(0.0),
            closedcomm: f(0.0),
            opened: i(10),
            openedvalue: f(1010.0),
            openedcomm: f(comm),
            pnl: f(0.0),
            psize: i(10),
            pprice: f(101.0),
            position_size: i(10),
            position_price: f(101.0),
        })]
    );
    let state = core.state();
    assert_eq!(state.cash, f(10000.0 - 1010.0 - comm));
    assert_eq!(state.value, f(10000.0 - 1010.0 - comm + 1025.0));
    assert!(!state.idle);
    assert_eq!(core.order(1).unwrap().state, OrderState::Done);
    assert!(core.order(1).unwrap().completed);
    assert_eq!(core.position(0).unwrap().day, 2);
}

#[test]
fn apply_returns_the_records_of_a_bracket() {
    let mut core = Core::new(f(10000.0), true, true, f(100.0)).unwrap();
    core.apply(&[stock(0)]).unwrap();
    let parent = OrderSpec {
        transmit: false,
        ..order(1, i(5), EXEC_LIMIT, 99.0, 1.0)
    };
    let stop = OrderSpec {
        parent: Some(1),
        isbuy: false,
        ..order(2, i(-5), EXEC_STOP, 95.0, 1.0)
    };
    let records = core
        .apply(&[Event::Submit(parent), Event::Submit(stop)])
        .unwrap();
    // the group is transmitted by its last order: both submitted, in group order
    assert_eq!(
        records,
        vec![Record::Submitted { oref: 1 }, Record::Submitted { oref: 2 }]
    );
    assert_eq!(core.order(2).unwrap().state, OrderState::Submitted);
    assert!(!core.order(2).unwrap().active);
    // the parent fills: the child is activated on the next bar
    let out = core
        .step(&[], &[bar(0, 2.0, 100.0, 101.0, 98.5, 100.0)])
        .unwrap();
    let tags: Vec<i128> = out.iter().map(Record::tag).collect();
    assert_eq!(tags, vec![10, 0, 0, 2]);
    let out = core
        .step(&[], &[bar(0, 3.0, 100.0, 101.0, 99.5, 100.0)])
        .unwrap();
    assert_eq!(out, vec![Record::Activated { oref: 2 }]);
}

#[test]
fn a_callback_filler_needs_a_callable_and_gets_its_calls() {
    let mut core = Core::new(f(10000.0), false, true, f(100.0)).unwrap();
    let config = Event::Config(Config {
        checksubmit: false,
        filler: FILLER_CALLBACK,
        ..Config::default()
    });
    let submit = Event::Submit(OrderSpec {
        check: false,
        ..order(7, i(10), EXEC_MARKET, 100.0, 1.0)
    });
    let bar1 = [bar(0, 1.0, 99.0, 101.0, 98.0, 100.0)];
    let err = core.step(&[stock(0), config, submit], &bar1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid step: filler = None (a callback filler needs a callable)"
    );
    let mut hooks = TestHooks::default();
    hooks.filler_on = true;
    core.step_with(&[stock(0), config, submit], &bar1, &mut hooks)
        .unwrap();
    let out = core
        .step_with(&[], &[bar(0, 2.0, 101.0, 102.0, 100.0, 101.5)], &mut hooks)
        .unwrap();
    // the first call of a step answers `[ref % 3 + 1, 1.5, 0][n % 3]` with n = 1
    assert_eq!(
        hooks.take_log(),
        vec![vec![
            Item::Str("filler"),
            Item::Int(7),
            Item::Float(101.0),
            Item::Int(0)
        ]]
    );
    // the position entry is created by the first fill
    assert_eq!(out.iter().map(Record::tag).collect::<Vec<_>>(), vec![10, 2]);
    assert_eq!(
        record_items(&out[1])[3..5],
        [Item::Float(1.5), Item::Float(101.0)]
    );
    assert_eq!(core.order(7).unwrap().remsize, f(8.5));
}

/// A core with everything a snapshot must carry: brackets (held and activated), an OCO group,
/// a twin in pending, history, cash additions, fund rows, credit, positions.
fn busy_core() -> Core {
    let mut core = Core::new_raw([vf(10000.0), vb(true), vb(true), vf(100.0)]).unwrap();
    let data = |d: i128, rate: f64| {
        raw(&[
            vi(0),
            vi(d),
            vb(true),
            vb(true),
            vf(0.001),
            vf(1.0),
            vf(0.0),
            vf(0.0),
            vf(1.0),
            vf(rate),
            vb(true),
            vi(0),
            vi(-1),
        ])
    };
    #[allow(clippy::too_many_arguments, reason = "an EV_SUBMIT tuple")]
    fn sub(
        tag: i128,
        oref: i128,
        size: i128,
        ex: i128,
        price: f64,
        parent: i128,
        oco: i128,
        transmit: bool,
    ) -> RawItem {
        raw(&[
            vi(tag),
            vi(oref),
            vi(0),
            vb(size > 0),
            vi(size),
            vi(ex),
            vf(price),
            vf(price),
            vf(price),
            vf(1.0),
            vf(0.0),
            vf(1.0),
            vf(0.0),
            vf(0.0),
            vf(0.0),
            vi(parent),
            vi(oco),
            vb(transmit),
            vb(tag == 2),
            vb(true),
            vb(false),
        ])
    }
    let b = |dt: f64, o: f64, c: f64| {
        raw(&[
            vi(0),
            vf(dt),
            vf(o),
            vf(o + 1.0),
            vf(o - 1.0),
            vf(c),
            vf(c),
            vf(500.0),
            vf(o + 1.0),
            vf(o - 1.0),
            vf(dt - 1.0),
            vf(o + 1.0),
            vf(o - 1.0),
            vf(500.0),
            vi(dt as i128),
        ])
    };
    let hooks = &mut TestHooks::default();
    core.step_raw(
        &[
            data(0, 0.1 / 365.0),
            sub(2, 1, 10, 0, 100.0, -1, -1, true),
            sub(2, 2, -3, 2, 104.0, -1, -1, true),
            sub(2, 3, 3, 2, 97.0, -1, 2, true),
        ],
        &[b(1.0, 100.0, 100.0)],
        hooks,
    )
    .unwrap();
    core.apply_raw(&[
        sub(2, 10, 2, 2, 99.5, -1, -1, false),
        sub(2, 11, -2, 3, 95.0, 10, -1, false),
        sub(2, 12, -2, 2, 110.0, 10, -1, true),
        sub(2, 13, 1, 2, 90.0, 1, -1, true),
    ])
    .unwrap();
    core.step_raw(&[], &[b(2.0, 99.0, 101.0)], hooks).unwrap();
    core.step_raw(
        &[
            sub(7, 20, 4, 7, 101.0, -1, -1, true),
            raw(&[vi(6), vf(250.0)]),
            sub(2, 21, 1, 2, 80.0, -1, -1, false),
        ],
        &[b(3.0, 101.0, 102.0)],
        hooks,
    )
    .unwrap();
    core.apply_raw(&[
        raw(&[vi(6), vi(100)]),
        sub(7, 22, -1, 7, 102.0, -1, -1, true),
        raw(&[vi(8), vf(100.5), vf(10100.0)]),
    ])
    .unwrap();
    core
}

#[test]
fn snapshot_round_trip_continues_identically() {
    let mut core = busy_core();
    let snap = core.snapshot();
    assert!(!snap.history.is_empty() && !snap.cash_addition.is_empty());
    assert!(snap.fundhist.is_some() && !snap.pchildren.is_empty() && !snap.ocol.is_empty());
    let mut twin = Core::from_snapshot(snap.clone()).unwrap();
    assert_eq!(twin.snapshot(), snap);
    assert_eq!(twin.state(), core.state());
    let hooks = &mut TestHooks::default();
    for k in 4..12 {
        let dt = f64::from(k);
        let o = 100.0 + f64::from(k % 5) - 2.0;
        let bars = [raw(&[
            vi(0),
            vf(dt),
            vf(o),
            vf(o + 1.5),
            vf(o - 1.5),
            vf(o + 0.5),
            vf(o + 0.5),
            vf(500.0),
            vf(o + 1.5),
            vf(o - 1.5),
            vf(dt - 1.0),
            vf(o),
            vf(o),
            vf(500.0),
            vi(i128::from(k)),
        ])];
        let a = core.step_raw(&[], &bars, hooks).map(records);
        let b = twin.step_raw(&[], &bars, hooks).map(records);
        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(state_items(&core.state()), state_items(&twin.state()));
    }
    assert_eq!(core.snapshot(), twin.snapshot());
}

#[test]
fn inconsistent_snapshots_are_refused() {
    let snap = busy_core().snapshot();
    let check = |mutate: &dyn Fn(&mut Snapshot)| {
        let mut bad = snap.clone();
        mutate(&mut bad);
        assert!(matches!(
            Core::from_snapshot(bad),
            Err(CoreError::BadSnapshot(_))
        ));
    };
    check(&|s| s.pending.push(Some(10_000)));
    check(&|s| s.submitted.push(10_000));
    check(&|s| s.pchildren.push((999, vec![10_000])));
    check(&|s| s.orders[0].data = 9);
    check(&|s| s.comm.push(s.comm[0]));
    check(&|s| s.comm[0].1.compensate = Some(4));
    check(&|s| s.positions.push((3, s.positions[0].1)));
    check(&|s| s.config.filler = 9);
}

#[test]
fn an_override_without_its_callable_fails_mid_step_as_in_python() {
    let mut core = Core::new(f(10000.0), false, true, f(100.0)).unwrap();
    let mut spec = CommSpec::basic(true, true, f(0.001), f(1.0), f(0.0), f(0.0), f(1.0));
    spec.overrides = 1 << 4; // get_leverage
    let submit = Event::Submit(OrderSpec {
        check: false,
        ..order(1, i(2), EXEC_MARKET, 100.0, 1.0)
    });
    core.step(
        &[
            Event::Data {
                data: 0,
                comm: spec,
            },
            submit,
        ],
        &[bar(0, 1.0, 99.0, 101.0, 98.0, 100.0)],
    )
    .unwrap();
    let err = core
        .step(&[], &[bar(0, 2.0, 101.0, 102.0, 100.0, 101.5)])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid step: comm = None (get_leverage() is overridden: needs a callable)"
    );
    // the execution stopped at get_leverage(): nothing of it was booked, and the pending pass
    // left its sentinel behind (the state is not idle), as the Python core's
    let state = core.state();
    assert_eq!(state.cash, f(10000.0));
    assert!(!state.idle);
    assert_eq!(core.snapshot().pending, vec![None]);
}

#[test]
fn raw_values_of_other_types_are_refused_like_python() {
    let mut core = Core::new(f(10000.0), true, true, f(100.0)).unwrap();
    let config = |filler: Value| {
        raw(&[
            vi(4),
            vb(true),
            vb(true),
            vb(false),
            vb(false),
            vf(0.0),
            vf(0.0),
            vb(false),
            vb(true),
            vb(true),
            vb(false),
            filler,
            vi(0),
            vi(0),
            vi(0),
            vb(true),
        ])
    };
    // `x in range(5)`: 2.0 and -0.0 are in it, True is refused as a bool, 2.5 is not in it
    assert!(core.apply_raw(&[config(vf(2.0))]).is_ok());
    assert!(core.apply_raw(&[config(vf(-0.0))]).is_ok());
    assert!(core
        .apply_raw(&[config(Value::Other { eq_int: Some(3) })])
        .is_ok());
    for bad in [
        vb(true),
        vf(2.5),
        vf(f64::NAN),
        Value::Other { eq_int: None },
        vi(5),
    ] {
        let err = core.apply_raw(&[config(bad)]).unwrap_err();
        assert!(err.to_string().ends_with("(unknown filler)"), "{err}");
    }
}
