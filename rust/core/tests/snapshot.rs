//! The snapshot's canonical order list: the same as the Python core's `PyCore.snapshot()`
//! (`bt_cracktrader/core/snapshot.py`), which holds no order that nothing reaches.

use cracktrader_core::{
    Bar, CommSpec, Config, Core, Event, Num, OrderSpec, Record, EXEC_CLOSE, EXEC_HISTORICAL,
    EXEC_LIMIT, EXEC_MARKET, EXEC_STOPTRAIL, FILLER_FIXEDSIZE,
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

/// Ints beyond `i64` (the order table holds them beside its 8-byte numbers) through partial
/// fills (a wide remaining size written over a wide one, then a narrow one) and snapshot round
/// trips: the core and a twin restored from each snapshot agree at every step. (A submit's
/// size stays within 2**53: the wide size comes in through a snapshot.)
#[test]
fn wide_int_orders_fill_and_survive_snapshots() {
    let core = Core::new(f(1e30), true, true, f(100.0)).unwrap();
    let data = Event::Data {
        data: 0,
        comm: CommSpec::basic(true, true, f(0.0), f(1.0), f(0.0), f(0.0), f(1.0)),
    };
    let config = Config {
        filler: FILLER_FIXEDSIZE,
        filler_size: Num::int(1 << 66),
        ..Config::default()
    };
    let order = OrderSpec {
        valid: Num::int(i128::MAX),
        dteos: Num::int(i128::MIN),
        created_dt: Num::int(-(1 << 80)),
        pclose: Num::int(1 << 64),
        ..spec(1, 1 << 53, EXEC_LIMIT, 100.0)
    };
    let big = |dt: f64, price: f64| Bar {
        volume: f(1e30),
        ..bar(dt, price)
    };
    let mut core = core;
    core.apply(&[data, Event::Config(config)]).unwrap();
    // accepted, not reached
    core.step(&[Event::Submit(order)], &[big(2.0, 200.0)])
        .unwrap();
    let o = core.order(1).unwrap();
    assert_eq!(
        [o.size, o.remsize, o.valid, o.dteos, o.created_dt, o.pclose],
        [
            Num::int(1 << 53),
            Num::int(1 << 53),
            Num::int(i128::MAX),
            Num::int(i128::MIN),
            Num::int(-(1 << 80)),
            Num::int(1 << 64)
        ]
    );
    let size = (1 << 70) + 1;
    let mut snap = core.snapshot();
    snap.orders[0].size = Num::int(size);
    snap.orders[0].remsize = Num::int(size);
    let mut core = Core::from_snapshot(snap.clone()).unwrap();
    assert_eq!(core.snapshot(), snap);
    let mut remaining = size;
    let mut fills = 0;
    while remaining != 0 {
        let snap = core.snapshot();
        let mut twin = Core::from_snapshot(snap.clone()).unwrap();
        assert_eq!(twin.snapshot(), snap);
        let dt = 3.0 + f64::from(fills);
        let a = core.step(&[], &[big(dt, 100.0)]).unwrap();
        let b = twin.step(&[], &[big(dt, 100.0)]).unwrap();
        assert_eq!(a, b);
        assert_eq!(core.snapshot(), twin.snapshot());
        let executed: Vec<Num> = a
            .iter()
            .filter_map(|r| match r {
                Record::Executed(e) => Some(e.size),
                _ => None,
            })
            .collect();
        let step = (1 << 66).min(remaining);
        assert_eq!(executed, [Num::int(step)]);
        remaining -= step;
        fills += 1;
        let o = core.order(1).unwrap();
        assert_eq!(o.remsize, Num::int(remaining));
        assert_eq!(o.size, Num::int(size));
        assert_eq!(o.valid, Num::int(i128::MAX));
    }
    assert_eq!(fills, 17);
    assert!(core.order(1).unwrap().completed);
}
