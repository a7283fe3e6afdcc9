//! The snapshot's canonical order list: the same as the Python core's `PyCore.snapshot()`
//! (`bt_cracktrader/core/snapshot.py`), which holds no order that nothing reaches.

use cracktrader_core::{
    Bar, CommSpec, Core, Event, Num, OrderSpec, EXEC_CLOSE, EXEC_HISTORICAL, EXEC_LIMIT,
    EXEC_MARKET, EXEC_STOPTRAIL,
};

fn f(v: f64) -> Num {
    Num::Float(v)
}

fn spec(oref: u64, size: i128, exectype: u8, price: f64) -> OrderSpec {
    OrderSpec {
        oref,
        data: 0,
        isbuy: size > 0,
        size: Num::int(size),
        exectype,
        price: f(price),
        pricelimit: f(price),
        pclose: f(price),
        created_dt: f(1.0),
        valid: f(0.0),
        dteos: f(1.0),
        trailamount: f(0.0),
        trailpercent: f(0.0),
        limitoffset: f(0.0),
        parent: None,
        oco: None,
        transmit: true,
        check: exectype != EXEC_HISTORICAL,
        coc: true,
        notified: false,
    }
}

fn bar(dt: f64, price: f64) -> Bar {
    Bar {
        data: 0,
        dt: f(dt),
        open: f(price),
        high: f(price + 1.0),
        low: f(price - 1.0),
        close: f(price),
        mark: f(price),
        volume: f(1000.0),
        rhigh: f(price + 1.0),
        rlow: f(price - 1.0),
        pdt: f(dt),
        phigh: f(price + 1.0),
        plow: f(price - 1.0),
        pvolume: f(1000.0),
        day: dt as i128,
    }
}

/// A fresh core (cash 10,000, checksubmit, shortcash) and the event that adds data 0 (a
/// stock-like scheme without commission).
fn core_with_data() -> (Core, Event) {
    let core = Core::new(f(10000.0), true, true, f(100.0)).unwrap();
    let data = Event::Data {
        data: 0,
        comm: CommSpec::basic(true, true, f(0.0), f(1.0), f(0.0), f(0.0), f(1.0)),
    };
    (core, data)
}

#[test]
fn replaced_orders_are_listed_while_queued_and_dropped_when_unreachable() {
    let (mut core, data) = core_with_data();
    // history orders 1 and 3 wait for the next bar; orders 1 (a limit) and 3 (a market order)
    // reuse their refs meanwhile, and the history orders replace them at the bar
    core.apply(&[
        data,
        Event::History(spec(1, 5, EXEC_HISTORICAL, 100.0)),
        Event::History(spec(3, 2, EXEC_HISTORICAL, 100.0)),
    ])
    .unwrap();
    core.apply(&[Event::Submit(spec(1, 4, EXEC_LIMIT, 90.0))])
        .unwrap();
    core.apply(&[Event::Submit(spec(3, 3, EXEC_MARKET, 90.0))])
        .unwrap();
    core.step(
        &[Event::Submit(spec(2, -1, EXEC_LIMIT, 90.0))],
        &[bar(2.0, 100.0)],
    )
    .unwrap();
    let snap = core.snapshot();
    // five orders exist; the replaced market order 3 sits in the bracket group of ref 3 (listed
    // first), the replaced limit order 1 was cancelled with its OCO group: gone
    let refs: Vec<u64> = snap.orders.iter().map(|o| o.oref).collect();
    assert_eq!(refs, [3, 1, 2, 3]);
    assert!(snap.pchildren.contains(&(3, vec![0, 3])));
    // the compacted snapshot restores to a core that writes it again and runs on identically
    let mut twin = Core::from_snapshot(snap.clone()).unwrap();
    assert_eq!(twin.snapshot(), snap);
    let events = [Event::Cancel {
        oref: 1,
        notified: false,
    }];
    let a = core.step(&events, &[bar(3.0, 80.0)]).unwrap();
    let b = twin.step(&events, &[bar(3.0, 80.0)]).unwrap();
    assert_eq!(a, b);
    assert_eq!(core.snapshot(), twin.snapshot());
}

/// The values the core keeps beside its order table (trailing amounts, the annotated close of
/// a Close order) read back whole, through `order()` and a snapshot round trip.
#[test]
fn rare_order_values_survive_snapshots() {
    let (mut core, data) = core_with_data();
    let trail = OrderSpec {
        trailamount: f(2.5),
        ..spec(1, -3, EXEC_STOPTRAIL, 95.0)
    };
    // an int zero is not the default float zero: kept as given
    let offset = OrderSpec {
        limitoffset: Num::int(0),
        ..spec(2, 3, EXEC_LIMIT, 50.0)
    };
    let close = OrderSpec {
        created_dt: f(2.0),
        dteos: f(2.0),
        ..spec(3, 1, EXEC_CLOSE, 100.0)
    };
    core.apply(&[data]).unwrap();
    core.step(
        &[
            Event::Submit(trail),
            Event::Submit(offset),
            Event::Submit(close),
        ],
        &[bar(2.0, 100.0)],
    )
    .unwrap();
    assert_eq!(core.order(1).unwrap().trailamount, f(2.5));
    assert_eq!(core.order(1).unwrap().trailpercent, f(0.0));
    assert_eq!(core.order(2).unwrap().limitoffset, Num::int(0));
    assert_eq!(core.order(2).unwrap().pannotated, None);
    // not executed on the bar of its creation: the close is annotated
    assert_eq!(core.order(3).unwrap().pannotated, Some(f(100.0)));
    let snap = core.snapshot();
    assert_eq!(snap.orders.len(), 3);
    let back = Core::from_snapshot(snap.clone()).unwrap();
    assert_eq!(back.snapshot(), snap);
    assert_eq!(back.order(3).unwrap().pannotated, Some(f(100.0)));
    assert_eq!(back.order(1).unwrap().trailamount, f(2.5));
}
