#!/usr/bin/env python
"""Write ``rust/core/tests/scenarios.rs``: hand-made contract v3 scenarios run on the Python core
(the reference), emitted as Rust tests that replay them on the Rust core with the same input
and the Rust twin of the test callables (``TestHooks`` in ``rust/core/tests/common/mod.rs``),
comparing every record, state, error and callback call bit for bit.

    python scripts/make_rust_core_scenarios.py    # then: cargo test -p bt-cracktrader-core
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

from bt_cracktrader.core.contract import (
    CoreInputError,
    bar_tuple,
    data_event,
    submit_event,
)
from bt_cracktrader.core.pycore import PyCore

INF = float("inf")


def rs_value(v):
    if v is None:
        return "Value::None"
    if isinstance(v, bool):
        return f"vb({'true' if v else 'false'})"
    if isinstance(v, int):
        return f"vi({v})"
    if isinstance(v, float):
        return f"vf({rs_float(v)})"
    if isinstance(v, str):
        return "Value::Other { eq_int: None }"
    raise TypeError(v)


def rs_float(v):
    if math.isnan(v):
        return "f64::NAN"
    if math.isinf(v):
        return "f64::INFINITY" if v > 0 else "f64::NEG_INFINITY"
    r = repr(v)
    if "e" not in r and "." not in r:
        r += ".0"
    return r


def rs_item(v):
    if isinstance(v, bool):
        return f"Item::Bool({'true' if v else 'false'})"
    if isinstance(v, int):
        return f"Item::Int({v})"
    if isinstance(v, float):
        return f"Item::Float({rs_float(v)})"
    if isinstance(v, str):
        return f"Item::Str({v!r})".replace("'", '"')
    if v is None:
        return "Item::None"
    raise TypeError(v)


def rs_tuple(t):
    return "raw(&[" + ", ".join(rs_value(v) for v in t) + "])"


def rs_items(t):
    return "vec![" + ", ".join(rs_item(v) for v in t) + "]"


class Boom(Exception):
    pass


class Hooks:
    """Python twin of the Rust test hooks (TestHooks in common/mod.rs)."""

    def __init__(self, fail_at=None):
        self.log = []
        self.fail_at = fail_at
        self.calls = 0

    def _failing(self):
        self.calls += 1
        if self.calls == self.fail_at:
            raise Boom("user code failed")

    def filler(self, ref, price, ago):
        self.log.append(("filler", ref, price, ago))
        self._failing()
        n = len(self.log)
        return [ref % 3 + 1, 1.5, 0][n % 3]

    def comm(self, data, method, *args):
        self.log.append(("comm", data, method, *args))
        self._failing()
        if method in ("_getcommission", "getcommission"):
            return abs(args[0]) * 0.25
        if method == "confirmexec":
            return None
        if method == "get_margin":
            return args[0] * 0.5
        if method == "get_leverage":
            return 2
        if method in ("getoperationcost", "getvaluesize"):
            return abs(args[0]) * args[1]
        if method == "getvalue":
            return args[0] * args[2]
        if method == "profitandloss":
            return args[0] * (args[2] - args[1])
        if method == "cashadjust":
            return 0.0 if args[1] is None else args[0] * (args[2] - args[1])
        if method == "get_credit_interest":
            return abs(args[0]) * 0.01
        if method == "_get_credit_interest":
            return args[2] * 0.001 * abs(args[0]) * args[1]
        raise AssertionError(method)


def run(name, init, calls, doc, fail_at=None):
    core = PyCore(*init)
    hooks = Hooks(fail_at)
    lines = [
        f"/// {doc}",
        "#[test]",
        f"fn {name}() {{",
        f"    let mut core = Core::new_raw([{', '.join(rs_value(v) for v in init)}]).unwrap();",
        "    let mut hooks = TestHooks::default();",
    ]
    if fail_at is not None:
        lines.append(f"    hooks.fail_at = Some({fail_at});")
    for call in calls:
        kind = call[0]
        hooks.log.clear()
        try:
            if kind == "step":
                _, events, bars, use_filler, use_comm = call
                records, state = core.step(
                    events,
                    bars,
                    hooks.filler if use_filler else None,
                    hooks.comm if use_comm else None,
                )
                out = ("records", records)
            elif kind == "apply":
                _, events = call
                use_filler = use_comm = False
                out = ("records", core.apply(events))
            else:
                _, datas, closes, lever, use_comm = call
                use_filler = False
                value, state = core.value_of(datas, closes, lever, hooks.comm if use_comm else None)
                out = ("value", value)
        except CoreInputError as e:
            out = ("error", f"CoreInputError: {e}")
        except Exception as e:  # noqa: BLE001
            out = ("error", type(e).__name__)
        hooks.calls = 0
        state = core.state()
        lines.append("    hooks.filler_on = " + ("true" if use_filler else "false") + ";")
        lines.append("    hooks.comm_on = " + ("true" if use_comm else "false") + ";")
        if kind == "step":
            ev = "[" + ", ".join(rs_tuple(e) for e in events) + "]"
            bs = "[" + ", ".join(rs_tuple(b) for b in bars) + "]"
            lines.append(f"    let got = core.step_raw(&{ev}, &{bs}, &mut hooks).map(records);")
        elif kind == "apply":
            ev = "[" + ", ".join(rs_tuple(e) for e in events) + "]"
            lines.append(f"    let got = core.apply_raw(&{ev}).map(records);")
        else:
            ds = "[" + ", ".join(rs_value(v) for v in datas) + "]"
            cs = "[" + ", ".join(rs_value(v) for v in closes) + "]"
            lines.append(
                f"    let got = core.value_of_raw(&{ds}, &{cs}, {'true' if lever else 'false'}, "
                "&mut hooks).map(|v| vec![vec![Item::from(v)]]);"
            )
        if out[0] == "error":
            lines.append(f"    expect_error(got, {out[1]!r});".replace("'", '"'))
        elif out[0] == "records":
            lines.append("    expect(got, vec![" + ", ".join(rs_items(r) for r in out[1]) + "]);")
        else:
            lines.append("    expect(got, vec![vec![" + rs_item(out[1]) + "]]);")
        lines.append(
            "    assert_eq!(hooks.take_log(), vec!["
            + ", ".join(rs_items(x) for x in hooks.log)
            + "] as Vec<Vec<Item>>);"
        )
        lines.append("    assert_eq!(state_items(&core.state()), " + rs_items(state) + ");")
    lines.append("}")
    return "\n".join(lines)


def sub(ref, data, size, price, dt, **kw):
    kw.setdefault("notified", False)
    return submit_event(ref, data, size, price, dt, **kw)


def bar(d, dt, o, h, lo, c, vol=1000.0, day=None, prev=None):
    return bar_tuple(d, dt, o, h, lo, c, vol, prev=prev, day=day)


def cfg(
    checksubmit=True,
    shortcash=True,
    coc=False,
    coo=False,
    slip_perc=0.0,
    slip_fixed=0.0,
    slip_open=False,
    slip_match=True,
    slip_limit=True,
    slip_out=False,
    filler=0,
    fsize=0,
    fperc=0,
    fminmov=0,
    int2pnl=True,
):
    return (
        4,
        checksubmit,
        shortcash,
        coc,
        coo,
        slip_perc,
        slip_fixed,
        slip_open,
        slip_match,
        slip_limit,
        slip_out,
        filler,
        fsize,
        fperc,
        fminmov,
        int2pnl,
    )


def hist(ref, data, size, price, dt):
    return (7,) + submit_event(ref, data, size, price, dt, exectype=7, check=False)[1:]


tests = []

# 1. every execution type against one data, with slippage
S = data_event(0, commission=0.001)
tests.append(
    run(
        "every_exectype_with_slippage",
        (10000.0, True, True, 100.0),
        [
            (
                "step",
                [
                    S,
                    cfg(slip_perc=0.01, slip_open=True),
                    sub(1, 0, 10, 100.0, 1.0),
                    sub(2, 0, -5, 101.0, 1.0, exectype=2),
                    sub(3, 0, 4, 103.5, 1.0, exectype=3),
                    sub(4, 0, 3, 103.5, 1.0, exectype=4, pricelimit=104.0),
                    sub(5, 0, -2, 97.0, 1.0, exectype=5, trailamount=1.0),
                    sub(
                        6,
                        0,
                        -2,
                        96.0,
                        1.0,
                        exectype=6,
                        pricelimit=95.5,
                        trailpercent=0.01,
                        limitoffset=0.5,
                    ),
                    sub(7, 0, 1, 100.0, 1.0, exectype=1, dteos=1.5),
                    sub(8, 0, 2, 95.0, 1.0, exectype=2, valid=2.5),
                    sub(9, 0, 1000, 100.0, 1.0),
                    sub(10, 0, 2, 110.0, 1.0, exectype=4, pricelimit=109.0),
                    sub(11, 0, 2, float("inf"), 1.0, exectype=5, trailpercent=0.02, pclose=100.0),
                ],
                [bar(0, 1.0, 99.0, 101.0, 98.0, 100.0)],
                False,
                False,
            ),
            ("step", [], [bar(0, 2.0, 100.5, 104.0, 99.5, 103.0)], False, False),
            (
                "step",
                [cfg(slip_fixed=0.25, slip_match=False, slip_out=True)],
                [bar(0, 3.0, 103.0, 104.5, 96.0, 97.0)],
                False,
                False,
            ),
            ("step", [], [bar(0, 4.0, 96.5, 97.0, 90.0, 91.0)], False, False),
            ("step", [], [bar(0, 5.0, 112.0, 112.5, 108.0, 111.0)], False, False),
        ],
        "Market, Close (ago -1), Limit, Stop, StopLimit, StopTrail, StopTrailLimit, validity, "
        "slippage, margin.",
    )
)

# 2. brackets and OCO through apply (notified=False), a twin in pending
tests.append(
    run(
        "brackets_oco_and_twins",
        (10000.0, True, True, 100.0),
        [
            ("step", [S], [bar(0, 1.0, 100.0, 101.0, 99.0, 100.0)], False, False),
            (
                "apply",
                [
                    sub(10, 0, 5, 99.5, 1.0, exectype=2, transmit=False),
                    sub(11, 0, -5, 97.0, 1.0, exectype=3, parent=10, transmit=False),
                    sub(12, 0, -5, 103.0, 1.0, exectype=2, parent=10, transmit=True),
                ],
            ),
            (
                "apply",
                [
                    sub(20, 0, 3, 100.0, 1.0, exectype=2, notified=True),
                    sub(21, 0, -3, 104.0, 1.0, exectype=2, oco=20),
                    sub(22, 0, 1, 100.0, 1.0, exectype=0, parent=20, transmit=True),
                ],
            ),
            ("step", [], [bar(0, 2.0, 99.0, 100.5, 98.5, 100.0)], False, False),
            ("step", [], [bar(0, 3.0, 100.0, 103.5, 99.0, 103.0)], False, False),
            (
                "apply",
                [
                    sub(30, 0, 2, 90.0, 3.0, exectype=2, transmit=False),
                    sub(31, 0, -2, 80.0, 3.0, exectype=3, parent=30, transmit=True),
                    (3, 30, False),
                ],
            ),
            (
                "step",
                [(3, 31, True), (3, 12, False)],
                [bar(0, 4.0, 103.0, 104.0, 102.0, 103.5)],
                False,
                False,
            ),
            (
                "apply",
                [
                    sub(40, 0, 1, 100.0, 4.0, exectype=2, parent=10),
                    sub(41, 0, 1, 100.0, 4.0, exectype=2, parent=30, transmit=True, check=False),
                ],
            ),
            ("step", [], [bar(0, 5.0, 103.0, 104.0, 102.0, 103.5)], False, False),
        ],
        "Bracket groups, OCO groups, a re-transmitted order twice in pending, cancels with "
        "cascades.",
    )
)

# 3. fillers: FixedBarPerc, BarPointPerc (int and float params), FixedSize, callback
tests.append(
    run(
        "volume_fillers",
        (100000.0, False, True, 100.0),
        [
            (
                "step",
                [
                    S,
                    data_event(
                        1, stocklike=False, perc=False, commission=2.0, mult=10.0, margin=500.0
                    ),
                    cfg(checksubmit=False, filler=2, fperc=7),
                    sub(1, 0, 5000, 100.0, 1.0, check=False),
                    sub(2, 1, -750.5, 20.0, 1.0, check=False),
                ],
                [
                    bar(0, 1.0, 100.0, 101.0, 99.0, 100.0, 3333.0),
                    bar(1, 1.0, 20.0, 21.0, 19.0, 20.0, 77),
                ],
                False,
                False,
            ),
            (
                "step",
                [],
                [
                    bar(0, 2.0, 100.0, 101.0, 99.0, 100.0, 3333.0),
                    bar(1, 2.0, 20.0, 21.0, 19.0, 20.0, 50),
                ],
                False,
                False,
            ),
            (
                "step",
                [cfg(checksubmit=False, filler=3, fperc=50.0, fminmov=0.25)],
                [
                    bar(0, 3.0, 100.0, 101.3, 99.1, 100.0, 1234.0),
                    bar(1, 3.0, 20.0, 21.0, 19.0, 20.0, 99),
                ],
                False,
                False,
            ),
            (
                "step",
                [cfg(checksubmit=False, filler=1, fsize=2.5)],
                [
                    bar(0, 4.0, 100.0, 101.0, 99.0, 100.0, 1.5),
                    bar(1, 4.0, 20.0, 21.0, 19.0, 20.0, 100),
                ],
                False,
                False,
            ),
            (
                "step",
                [cfg(checksubmit=False, filler=4)],
                [bar(0, 5.0, 100.0, 101.0, 99.0, 100.0), bar(1, 5.0, 20.0, 21.0, 19.0, 20.0)],
                False,
                False,
            ),
            (
                "step",
                [cfg(checksubmit=False, filler=4)],
                [bar(0, 6.0, 100.0, 101.0, 99.0, 100.0), bar(1, 6.0, 20.0, 21.0, 19.0, 20.0)],
                True,
                False,
            ),
            (
                "step",
                [],
                [bar(0, 6.5, 100.0, 101.0, 99.0, 100.0), bar(1, 6.5, 20.0, 21.0, 19.0, 20.0)],
                True,
                False,
            ),
            (
                "step",
                [cfg(checksubmit=False, filler=3, fperc=10, fminmov=1)],
                [
                    bar(0, 7.0, 100.0, 100.0, 101.0, 100.0, 10.0),
                    bar(1, 7.0, 20.0, 21.0, 19.0, 20.0),
                ],
                False,
                False,
            ),
        ],
        "Volume fillers: Python min() and floor division, a user filler, a zero parts division.",
    )
)

# 4. user CommInfo overrides called back; interest; int2pnl; compensate
ov = sum(1 << i for i in (0, 2, 4, 8, 9, 11))
tests.append(
    run(
        "commission_overrides_interest_and_compensation",
        (50000.0, True, True, 100.0),
        [
            (
                "step",
                [
                    data_event(
                        0, commission=0.001, creditrate=0.1 / 365, interest_long=True, overrides=ov
                    ),
                    data_event(
                        1,
                        stocklike=False,
                        perc=False,
                        commission=1.0,
                        mult=5.0,
                        margin=100.0,
                        creditrate=0.05 / 365,
                    ),
                    data_event(2, compensate=1),
                    sub(1, 0, 10, 100.0, 1.0),
                    sub(2, 1, -3, 50.0, 1.0),
                    sub(3, 2, 3, 50.0, 1.0),
                ],
                [
                    bar(0, 1.0, 100.0, 101.0, 99.0, 100.0, day=10),
                    bar(1, 1.0, 50.0, 51.0, 49.0, 50.0, day=10),
                    bar(2, 1.0, 50.0, 51.0, 49.0, 50.0, day=10),
                ],
                False,
                True,
            ),
            (
                "step",
                [],
                [
                    bar(0, 2.0, 101.0, 102.0, 100.0, 101.5, day=11),
                    bar(1, 2.0, 50.5, 51.0, 49.0, 49.5, day=11),
                    bar(2, 2.0, 50.0, 51.0, 49.0, 50.0, day=11),
                ],
                False,
                True,
            ),
            (
                "step",
                [sub(4, 0, -10, 101.5, 2.0), sub(5, 1, 3, 49.5, 2.0)],
                [
                    bar(0, 3.0, 102.0, 103.0, 101.0, 102.5, day=14),
                    bar(1, 3.0, 49.0, 50.0, 48.0, 48.5, day=14),
                    bar(2, 3.0, 50.0, 51.0, 49.0, 50.0, day=14),
                ],
                False,
                True,
            ),
            ("value_of", [0, 1], [102.5, 48.5], False, True),
            ("value_of", [0], [102.5], True, True),
            (
                "step",
                [sub(6, 0, 1, 102.0, 3.0)],
                [
                    bar(0, 4.0, 102.0, 103.0, 101.0, 102.5, day=15),
                    bar(1, 4.0, 49.0, 50.0, 48.0, 48.5, day=15),
                    bar(2, 4.0, 50.0, 51.0, 49.0, 50.0, day=15),
                ],
                False,
                False,
            ),
        ],
        "CommInfo overrides through the callable (and refused without it), credit interest, "
        "int2pnl, compensation.",
    )
)

# 5. cash additions, order history, fund rows, cheat-on-close/open
tests.append(
    run(
        "cash_history_fund_and_cheats",
        (10000.0, True, True, 100.0),
        [
            (
                "step",
                [
                    S,
                    cfg(coc=True),
                    sub(1, 0, 5, 100.0, 1.0, pclose=100.0),
                    sub(2, 0, 5, 100.0, 1.0, coc=False),
                    (6, 1000.0),
                    hist(3, 0, 2, 99.0, 1.0),
                ],
                [bar(0, 1.0, 99.0, 101.0, 98.0, 100.0)],
                False,
                False,
            ),
            (
                "step",
                [cfg(coo=True), sub(4, 0, -3, 100.0, 1.0), (6, -250)],
                [bar(0, 2.0, 101.0, 102.0, 100.0, 101.5)],
                False,
                False,
            ),
            ("apply", [(8, 101.0, 11000.0), (5, 5000.0)]),
            ("value_of", [0], [101.5], False, False),
            ("step", [], [bar(0, 3.0, 101.0, 102.0, 100.0, 100.5)], False, False),
            ("step", [(8, 0.0, 11000.0)], [bar(0, 4.0, 101.0, 102.0, 100.0, 100.5)], False, False),
        ],
        "add_cash, history orders after the interest step, fund history rows, coc and coo.",
    )
)

# 6. refused input
base = [S, sub(1, 0, 5, 100.0, 1.0)]
bad_calls = [
    ("apply", [S, (3, 99, False)]),
    ("apply", [S, sub(2, 0, 5, 100.0, 1.0, parent=77)]),
    ("apply", [S, sub(1, 0, 5, 100.0, 1.0)]),
    ("apply", [S, sub(2, 0, 5, 100.0, 1.0, notified=True, transmit=False)]),
    ("apply", [S, sub(2, 0, 5, 100.0, 1.0, exectype=8)]),
    ("apply", [S, sub(2, 0, 5, float("inf"), 1.0, exectype=2)]),
    ("apply", [S, sub(2, 0, 5, float("nan"), 1.0, exectype=5)]),
    ("apply", [S, (7,) + sub(2, 0, 5, 100.0, 1.0)[1:]]),
    ("apply", [data_event(0, overrides=4096)]),
    ("apply", [data_event(0, compensate=-2)]),
    ("apply", [data_event(3, compensate=7), data_event(4)]),
    ("apply", [cfg(filler=5)]),
    ("apply", [cfg(filler=2.0), (8, None, 1.0)]),
    ("apply", [(3, 1, None)]),
    ("step", [], [bar(0, 2.0, 100, 101, 99, 100), bar(0, 2.0, 100, 101, 99, 100)], False, False),
    ("step", [], [bar(0, 2.0, 100, 101, 99, 100, day=None)[:14] + (2.0,)], False, False),
    ("step", [cfg(filler=4)], [bar(0, 2.0, 100, 101, 99, 100)], False, False),
    ("step", [], [bar(0, 2.0, 100, 101, 99, 100)], False, False),
]
tests.append(
    run(
        "refused_input_leaves_the_state_alone",
        (10000.0, True, True, 100.0),
        [("step", base, [bar(0, 1.0, 100, 101, 99, 100)], False, False)] + bad_calls,
        "Refused input: the Python core's messages, nothing applied.",
    )
)

# 7. a user callable raising mid-step: the state as the Python core leaves it (the pending
# pass interrupted, its sentinel left behind), then the next bars
ov = 1 << 1  # getcommission
tests.append(
    run(
        "a_raising_callable_interrupts_the_step_as_in_python",
        (10000.0, False, True, 100.0),
        [
            (
                "step",
                [
                    data_event(0, commission=0.001, overrides=ov),
                    cfg(checksubmit=False),
                    sub(1, 0, 2, 100.0, 1.0, check=False),
                    sub(2, 0, 3, 100.0, 1.0, check=False),
                    sub(3, 0, 4, 100.0, 1.0, check=False),
                ],
                [bar(0, 1.0, 99.0, 101.0, 98.0, 100.0)],
                False,
                True,
            ),
            ("step", [], [bar(0, 2.0, 100.0, 101.0, 99.0, 100.5)], False, True),
            (
                "step",
                [sub(4, 0, 1, 100.0, 2.0, check=False)],
                [bar(0, 3.0, 100.0, 101.0, 99.0, 100.5)],
                False,
                True,
            ),
            ("step", [], [bar(0, 4.0, 100.0, 101.0, 99.0, 100.5)], False, True),
            ("step", [], [bar(0, 5.0, 100.0, 101.0, 99.0, 100.5)], False, True),
        ],
        "A CommInfo override raising in the middle of the pending pass.",
        fail_at=2,
    )
)

# 8. KeyError: a cancel of a history order of the same batch (not yet an order)
tests.append(
    run(
        "key_error_of_a_history_order_in_the_same_batch",
        (10000.0, True, True, 100.0),
        [
            ("apply", [S, hist(1, 0, 5, 100.0, 1.0), (3, 1, False), sub(2, 0, 1, 100.0, 1.0)]),
            ("step", [], [bar(0, 2.0, 100.0, 101.0, 99.0, 100.5)], False, False),
            (
                "step",
                [hist(3, 0, -2, 101.0, 2.0), sub(4, 0, 1, 100.0, 2.0, oco=3)],
                [bar(0, 3.0, 100.0, 101.0, 99.0, 100.5)],
                False,
                False,
            ),
            ("step", [], [bar(0, 4.0, 100.0, 101.0, 99.0, 100.5)], False, False),
        ],
        "A history order is an order only once the step accepts it (KeyError as in Python).",
    )
)

HEAD = """\
//! The core on hand-made scenarios covering contract v3: every execution type, brackets, OCO
//! groups and twin orders, volume fillers and a user filler, CommInfo overrides called back,
//! credit interest, int2pnl, compensation, cash additions, order and fund history, refused
//! input. Every expected record, state, error and callback call was produced by the Python
//! reference core (`bt_cracktrader.core.pycore.PyCore`) on the same input with the Python twin
//! of [`TestHooks`]: this file is written by `scripts/make_rust_core_scenarios.py`.

mod common;

use common::{
    expect, expect_error, raw, records, state_items, vb, vf, vi, Item, TestHooks,
};
use cracktrader_core::{Core, Value};

"""


def main() -> None:
    path = Path(__file__).resolve().parents[1] / "rust" / "core" / "tests" / "scenarios.rs"
    path.write_text(HEAD + "\n\n".join(tests) + "\n")
    rustfmt = shutil.which("rustfmt")
    if rustfmt:
        subprocess.run([rustfmt, "--edition", "2021", str(path)], check=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
