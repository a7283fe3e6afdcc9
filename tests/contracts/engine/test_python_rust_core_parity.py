# ruff: noqa: B023 - the lambdas in loops are called at once, inside their iteration
"""Differential fuzzing of the two cores, call by call: PyCore (the reference) vs RustCore.

Seeded random scenarios drive both cores with the same contract-v3 calls: every exectype with
validity, trailing stops, brackets and OCO groups, cancels, every filler (and a Python filler
callback), slippage, cheat-on-close/open, credit interest, add_cash, order and fund history,
compensation, user CommInfo overrides answered by a callback, ``value_of``, invalid input of
every kind and pickle round trips. Every outcome (records, state, return value, or exception
class, message and offending value) and every call the cores make back must be identical.
``BT_CRACKTRADER_FUZZ_SCENARIOS`` (default 300) and ``BT_CRACKTRADER_FUZZ_STEPS`` (default
250) size the run; a failing scenario names its seed.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
import random
from collections import Counter

import pytest

from bt_cracktrader._rust import RustCore
from bt_cracktrader.core.contract import COMM_METHODS, CoreInputError
from bt_cracktrader.core.pycore import PyCore

COUNTS: Counter = Counter()
REC_NAMES = (
    "accepted",
    "margin",
    "executed",
    "submitted",
    "canceled",
    "expired",
    "rejected",
    "activated",
    "triggered",
    "trail",
    "position",
)

OBJ = object()  # the very same object goes to both cores, so its repr is the same
# bad values a field of any type refuses the same way in both cores (no int beyond 128 bits
# that Python would carry on with: the Rust core refuses those by design)
GENERIC_BAD = [
    None,
    "1",
    True,
    False,
    float("nan"),
    float("inf"),
    -float("inf"),
    -1,
    1.5,
    0,
    -0.0,
    2**53 + 1,
    2**60,
    OBJ,
    (1,),
    [1],
    -2,
]
INF = float("inf")


def outcome(fn):
    try:
        return ("ok", fn())
    except CoreInputError as e:
        return ("CoreInputError", str(e), e.what, e.field, repr(e.value), e.reason)
    except Exception as e:  # noqa: BLE001 - every exception class must match
        return (type(e).__name__, str(e))


def has_nan(x):
    if isinstance(x, float):
        return math.isnan(x)
    if isinstance(x, (tuple, list)):
        return any(has_nan(i) for i in x)
    return False


def same(a, b, ctx):
    if repr(a) != repr(b) or (not has_nan(a) and a != b):
        raise AssertionError(f"MISMATCH {ctx}\n python: {a!r}\n rust:   {b!r}")


class Boom(Exception):
    pass


class Callbacks:
    """The user code of one core: a filler and a CommInfo override dispatcher. Both answer as a
    deterministic function of their arguments and of how many calls they had, and log every
    call; a twin for the other core answers the same as long as it is called the same."""

    def __init__(self, seed):
        self.seed = seed
        self.log = []
        self.raise_every = 0  # 0: never

    def _tick(self, entry):
        self.log.append(entry)
        n = len(self.log)
        if self.raise_every and n % self.raise_every == 0:
            raise Boom(f"user code failed at call {n}")
        return n

    def filler(self, ref, price, ago):
        n = self._tick(("filler", ref, price, ago))
        k = (ref * 7 + n + self.seed) % 11
        if k == 0:
            return 0
        if k == 1:
            return 2.5
        if k == 2:
            return float(ref % 4 + 1)
        if k == 3 and self.seed % 5 == 0:
            return None  # refused: "filler result"
        if k == 4 and self.seed % 7 == 0:
            return True  # refused too (a bool is no number)
        return ref % 6 + 1

    def comm(self, data, method, *args):
        n = self._tick(("comm", data, method, args))
        odd = (n + self.seed) % 3 == 0
        if method == "_getcommission":
            size, price, pseudoexec = args
            return abs(size) * price * 0.0007 + (0.25 if pseudoexec else 0.5)
        if method == "getcommission":
            size, price = args
            return abs(size) * 0.5 if not odd else 1
        if method == "confirmexec":
            return None  # its result is unused
        if method == "get_margin":
            (price,) = args
            return price * 0.2
        if method == "get_leverage":
            return 2 if odd else 1.5
        if method == "getoperationcost":
            size, price = args
            return abs(size) * price
        if method == "getvaluesize":
            size, price = args
            return size * price * (0.5 if odd else 1.0)
        if method == "getvalue":
            size, pprice, price = args
            return size * price
        if method == "profitandloss":
            size, price, newprice = args
            return size * (newprice - price) * (2 if odd else 1)
        if method == "cashadjust":
            size, price, newprice = args
            return 0.0 if price is None else size * (newprice - price) * 0.5
        if method == "get_credit_interest":
            size, price, posdt, dt = args
            return abs(size) * price * 0.00001 * max(0.0, dt - posdt) if posdt else 0.0
        if method == "_get_credit_interest":
            size, price, days, dt0, dt1 = args
            return days * 0.0002 * abs(size) * price
        raise AssertionError(method)


class Scenario:
    def __init__(self, seed):
        self.rng = rng = random.Random(seed)
        self.seed = seed
        self.checksubmit = rng.random() < 0.75
        self.shortcash = rng.random() < 0.7
        cash = rng.choice(
            [
                10000.0,
                100000,
                5000.0,
                1e6,
                250.5,
                10000,
                2500.0,
                0.0 if rng.random() < 0.05 else 10000.0,
            ]
        )
        fundstartval = rng.choice([100.0, 100, 10.0, 1.0, 7])
        args = (cash, self.checksubmit, self.shortcash, fundstartval)
        if rng.random() < 0.1:  # invalid constructor arguments
            k = rng.randrange(4)
            bad = list(args)
            bad[k] = rng.choice(GENERIC_BAD + [10**400])
            a = outcome(lambda: PyCore(*bad).state())
            b = outcome(lambda: RustCore(*bad).state())
            same(a, b, f"init {bad!r}")
            COUNTS["errors"] += a[0] != "ok"
        self.py = PyCore(*args)
        self.rs = RustCore(*args)
        COUNTS["init"] += 1
        same(self.py.state(), self.rs.state(), "init state")
        self.cb_py = Callbacks(seed)
        self.cb_rs = Callbacks(seed)
        if rng.random() < 0.15:
            self.cb_py.raise_every = self.cb_rs.raise_every = rng.choice([7, 23, 61])
        self.ndatas = rng.choice([1, 1, 2, 3])
        self.prices = {d: rng.uniform(5, 500) for d in range(self.ndatas)}
        self.prev = {}
        self.int_prices = rng.random() < 0.05
        self.dt = 730000.0 + rng.choice([0.0, 0.9999])
        self.ref = 1
        self.filler = 0
        self.overrides = rng.random() < 0.3
        self.interest = rng.random() < 0.4
        self.compensate = rng.random() < 0.15
        self.use_fund = rng.random() < 0.1
        self.pending_events = [self.data_event(d) for d in range(self.ndatas)]
        if rng.random() < 0.7:
            self.pending_events.append(self.config_event())

    # -- generators --------------------------------------------------------------------------
    def comm_spec(self, d):
        rng = self.rng
        lev = rng.choice([1.0, 1.0, 2.0, 0.5, 3.0])
        kind = rng.choice(["perc", "fixed", "futures", "futures_auto", "futures_int"])
        if kind == "perc":
            spec = (True, True, rng.choice([0.0, 0.001, 0.0025, 0.01]), 1.0, 0.0, 0.0, lev)
        elif kind == "fixed":
            spec = (
                True,
                False,
                rng.choice([0.0, 1.0, 2.5]),
                rng.choice([1.0, 1.0, 2.0]),
                0.0,
                0.0,
                lev,
            )
        elif kind == "futures":
            spec = (
                False,
                rng.random() < 0.3,
                rng.choice([0.0, 2.0, 0.001]),
                rng.choice([1.0, 10.0, 25.0]),
                rng.choice([0.0, 1000.0, 2000.0, 50.0]),
                0.0,
                lev,
            )
        elif kind == "futures_auto":
            spec = (
                False,
                False,
                rng.choice([0.0, 2.0]),
                rng.choice([1.0, 10.0]),
                rng.choice([0.0, 500.0]),
                rng.choice([0.5, -1.0, 0.25, -2.0]),
                lev,
            )
        else:  # int parameters (the Python core keeps them int)
            spec = (
                rng.random() < 0.5,
                False,
                rng.choice([0, 2, 1]),
                rng.choice([1, 10]),
                rng.choice([0, 1000]),
                0,
                rng.choice([1, 2]),
            )
        creditrate = rng.choice([0.0, 0.05 / 365, 0.1 / 365, 1]) if self.interest else 0.0
        interest_long = rng.random() < 0.5
        overrides = 0
        if self.overrides:
            for bit in range(len(COMM_METHODS)):
                if rng.random() < 0.3:
                    overrides |= 1 << bit
        compensate = -1
        if self.compensate and d > 0 and rng.random() < 0.6:
            compensate = rng.randrange(d)
        return (*spec, creditrate, interest_long, overrides, compensate)

    def data_event(self, d):
        return (0, d, *self.comm_spec(d))

    def config_event(self):
        rng = self.rng
        self.checksubmit = rng.random() < 0.75
        self.shortcash = rng.random() < 0.7
        slip = rng.random()
        slip_perc = rng.choice([0.001, 0.01, 0.05]) if slip < 0.25 else 0.0
        slip_fixed = rng.choice([0.05, 0.5, 2, 1.0]) if 0.25 <= slip < 0.45 else 0.0
        self.filler = rng.choice([0, 0, 0, 1, 2, 3, 4])
        fsize = fperc = fminmov = 0
        if self.filler == 1:
            fsize = rng.choice([0, 1, 3, 5.0, 2.5, 100])
        elif self.filler == 2:
            fperc = rng.choice([10, 50.0, 1, 0.5, 100])
        elif self.filler == 3:
            fperc = rng.choice([10, 50.0, 100])
            fminmov = rng.choice([0, 0.01, 0.05, 1, 0.25])
        filler = self.filler
        if rng.random() < 0.1:
            filler = float(filler)  # `1.0 in range(5)` holds in Python
        return (
            4,
            self.checksubmit,
            self.shortcash,
            rng.random() < 0.15,
            rng.random() < 0.15,
            slip_perc,
            slip_fixed,
            rng.random() < 0.5,
            rng.random() < 0.7,
            rng.random() < 0.7,
            rng.random() < 0.2,
            filler,
            fsize,
            fperc,
            fminmov,
            rng.random() < 0.8,
        )

    def size(self):
        rng = self.rng
        r = rng.random()
        if r < 0.5:
            return rng.randint(-30, 30) or 1
        if r < 0.7:
            return (rng.randint(-5, 5) * 0.25) or 0.5
        if r < 0.9:
            return rng.uniform(-30, 30)
        if r < 0.95:
            return rng.choice([0, 0.0, -0.0, 1e-9, -1e-9])
        return rng.choice([1000, -1000, 250.5, 10**6, 2**40])

    def known_refs(self):
        return list(self.py.orders)

    def pending_refs(self):
        return [o.ref for o in self.py.pending if o is not None]

    def datas(self):
        return sorted(self.py.comm)

    def order_event(
        self,
        d,
        *,
        tag=2,
        exectype=None,
        size=None,
        parent=-1,
        oco=-1,
        transmit=True,
        notified=None,
        isbuy=None,
    ):
        rng = self.rng
        p = self.prices.get(d, 100.0)
        if exectype is None:
            exectype = rng.choice([0, 0, 0, 1, 2, 2, 3, 3, 4, 5, 6, 7])
        if size is None:
            size = self.size()
        if isbuy is None:
            isbuy = size > 0 if rng.random() < 0.95 else not size > 0
        price = p * rng.uniform(0.94, 1.06)
        if rng.random() < 0.05:
            price = int(price) or 1
        pricelimit = price * rng.uniform(0.97, 1.03) if exectype in (4, 6) else price
        trailamount = trailpercent = 0.0
        limitoffset = 0.0
        if exectype in (5, 6):
            r = rng.random()
            if r < 0.4:
                trailamount = rng.choice([0.5, 1.0, p * 0.02])
            elif r < 0.8:
                trailpercent = rng.choice([0.01, 0.02, 0.05])
            limitoffset = price - pricelimit
            if rng.random() < 0.3:
                price = INF if isbuy else -INF
                pricelimit = price
        created = self.dt if rng.random() < 0.9 else self.dt + 1.0
        valid = 0.0
        if rng.random() < 0.25:
            valid = self.dt + rng.choice([0.5, 1.0, 2.0, 4.0])
        dteos = created if rng.random() < 0.7 else created + rng.choice([0.5, 1.0, 2.0])
        check = self.checksubmit if rng.random() < 0.9 else not self.checksubmit
        coc = rng.random() < 0.8
        if notified is None:
            notified = parent == -1 and transmit and rng.random() < 0.5
        ev = (
            tag,
            self.ref,
            d,
            isbuy,
            size,
            exectype,
            price,
            pricelimit,
            p,
            created,
            valid,
            dteos,
            trailamount,
            trailpercent,
            limitoffset,
            parent,
            oco,
            transmit,
            check,
            coc,
            notified,
        )
        self.ref += rng.choice([1, 1, 1, 2, 7])
        return ev

    def history_event(self, d):
        rng = self.rng
        size = rng.choice([rng.randint(-10, 10) or 1, rng.uniform(-5, 5)])
        price = self.prices.get(d, 100.0) * rng.uniform(0.98, 1.02)
        ev = (
            7,
            self.ref,
            d,
            size > 0,
            size,
            7,
            price,
            price,
            price,
            self.dt,
            0.0,
            self.dt,
            0.0,
            0.0,
            0.0,
            -1,
            -1,
            rng.random() < 0.95,
            False,
            True,
            False,
        )
        self.ref += 1
        return ev

    def bracket(self, d):
        rng = self.rng
        size = abs(self.size()) or 1
        buy = rng.random() < 0.5
        sign = 1 if buy else -1
        parent = self.order_event(
            d,
            exectype=rng.choice([0, 2, 2, 3]),
            size=sign * size,
            transmit=False,
            notified=False,
            isbuy=buy,
        )
        pref = parent[1]
        low = self.order_event(
            d,
            exectype=rng.choice([3, 3, 5]),
            size=-sign * size,
            parent=pref,
            transmit=False,
            notified=False,
            isbuy=not buy,
        )
        last = rng.random() < 0.8
        high = self.order_event(
            d,
            exectype=2,
            size=-sign * size,
            parent=pref,
            transmit=last,
            notified=False,
            isbuy=not buy,
        )
        evs = [parent, low, high]
        if rng.random() < 0.2:
            evs = [parent, high]
        return evs

    def valid_events(self):
        rng = self.rng
        events = []
        if self.pending_events:
            events.extend(self.pending_events)
            self.pending_events = []
        datas = self.datas() or list(range(self.ndatas))
        for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3, 5])):
            r = rng.random()
            d = rng.choice(datas)
            if r < 0.4:
                events.append(self.order_event(d))
            elif r < 0.48:
                events.extend(self.bracket(d))
            elif r < 0.52:
                # a child of any known order: re-transmits its group (twins in pending) or is
                # rejected when the group is gone
                refs = self.known_refs() + [e[1] for e in events if e[0] == 2]
                if refs:
                    events.append(
                        self.order_event(
                            d, parent=rng.choice(refs), transmit=rng.random() < 0.8, notified=False
                        )
                    )
            elif r < 0.55:
                refs = self.known_refs() + [e[1] for e in events if e[0] == 2]
                if rng.random() < 0.03:  # a history order of the batch: KeyError in both
                    refs += [e[1] for e in events if e[0] == 7]
                if refs:
                    events.append(self.order_event(d, oco=rng.choice(refs)))
            elif r < 0.66:
                refs = self.pending_refs() * 3 + self.known_refs()
                refs += [e[1] for e in events if e[0] == 2]
                if rng.random() < 0.05:  # a history order of the batch: KeyError in both
                    refs += [e[1] for e in events if e[0] == 7] * 5
                if refs:
                    events.append((3, rng.choice(refs), rng.random() < 0.4))
            elif r < 0.69:
                events.append((1, d))
            elif r < 0.72:
                events.append(self.data_event(d if rng.random() < 0.85 else max(datas) + 1))
            elif r < 0.78:
                events.append(self.config_event())
            elif r < 0.8:
                events.append((5, rng.choice([5000.0, 20000, 123456.789, 0.0, -100.0, 10**6])))
            elif r < 0.86:
                events.append((6, rng.choice([1000.0, -500.0, 250, 0.0, 12.5])))
            elif r < 0.93:
                events.append(self.history_event(d))
            elif self.use_fund:
                fv = rng.choice(
                    [
                        100.0,
                        101.5,
                        99.25,
                        0.0 if rng.random() < 0.05 else 100.5,
                        float("nan") if rng.random() < 0.05 else 98.0,
                        100,
                    ]
                )
                events.append((8, fv, rng.choice([10000.0, 12500.5, 9000.0, 10000])))
        return events

    def bars(self, events=()):
        rng = self.rng
        self.dt += rng.choice([1.0, 1.0, 1.0, 3.0, 0.5, 0.25])
        bars = []
        new = {e[1] for e in events if isinstance(e, tuple) and len(e) == 13 and e[0] == 0}
        datas = sorted(set(self.datas()) | {d for d in new if isinstance(d, int) and d < 10})
        for d in datas:
            if d not in self.prices:
                self.prices[d] = rng.uniform(5, 500)
            p = self.prices[d] * math.exp(rng.gauss(0, 0.03))
            self.prices[d] = p
            o = p * math.exp(rng.gauss(0, 0.015))
            c = p
            h, lo = max(o, c) * rng.uniform(1.0, 1.02), min(o, c) * rng.uniform(0.98, 1.0)
            vol = float(rng.randint(0, 10000)) if rng.random() < 0.9 else rng.randint(0, 50)
            mark = c
            if self.int_prices or rng.random() < 0.01:
                o, c, mark = int(o) or 1, int(c) or 1, int(mark) or 1
            if rng.random() < 0.003:
                o = rng.choice([float("nan"), float("inf")])
            pdt, ph, pl, pv = self.prev.get(d, (self.dt - 1.0, h, lo, vol))
            day = int(self.dt) if rng.random() < 0.98 else int(self.dt) + 1
            bars.append((d, self.dt, o, h, lo, c, mark, vol, h, lo, pdt, ph, pl, pv, day))
            self.prev[d] = (self.dt, h, lo, vol)
        if rng.random() < 0.3:
            rng.shuffle(bars)
        return bars

    # -- invalid input -----------------------------------------------------------------------
    def corrupt_event(self, events):
        rng = self.rng
        known = self.known_refs()
        r = rng.random()
        if r < 0.12:
            bad = rng.choice([(), (9, 1), (-1,), (True, 0), [2, 1], 5, None, ("2",), (2.0, 1)])
            events.insert(rng.randrange(len(events) + 1), bad)
            return events
        if r < 0.2 and events:
            k = rng.randrange(len(events))
            ev = events[k]
            if isinstance(ev, tuple):
                events[k] = ev[:-1] if rng.random() < 0.5 else ev + (0,)
            return events
        if r < 0.45:
            base = self.order_event(0)
            choices = [
                (3, 10**9, False),  # unknown ref
                (3, 2**130, False),
                (3, -1, False),
                (3, known[0] if known else 1, None),
                (1, 2**130),
                (1, 50),
                (0, 0, True, True, 0.001, 1.0, 0.0, 0.0, 0.0, 0.0, False, 0, -1),
                (0, 0, True, True, 0.001, 1.0, 0.0, 0.0, -1, 0.0, False, 0, -1),
                (0, 0, True, True, 0.001, 1.0, 0.0, 0.0, 1.0, 0.0, False, 4096, -1),
                (0, 0, True, True, 0.001, 1.0, 0.0, 0.0, 1.0, 0.0, False, True, -1),
                (0, 0, True, True, 0.001, 1.0, 0.0, 0.0, 1.0, 0.0, False, 0, 77),
                (0, 0, True, True, 0.001, 1.0, 0.0, 0.0, 1.0, 0.0, False, 0, 2**130),
                (0, 0, True, True, 0.001, 1.0, 0.0, 0.0, 1.0, 0.0, False, 0, -2),
                (0, 5, True, True, 0.001, 1.0, 0.0, 0.0, 1.0, 0.0, False, 0, 6),
                (0, 0, True, True, 0.001, 1.0, 0.0, 0.0, 1.0, float("nan"), False, 0, -1),
                (4, True, True, False, False, 0.0, 0.0, False, True, True, False, 5, 0, 0, 0, True),
                (
                    4,
                    True,
                    True,
                    False,
                    False,
                    0.0,
                    0.0,
                    False,
                    True,
                    True,
                    False,
                    2.5,
                    0,
                    0,
                    0,
                    True,
                ),
                (
                    4,
                    True,
                    True,
                    False,
                    False,
                    0.0,
                    0.0,
                    False,
                    True,
                    True,
                    False,
                    -0.0,
                    0,
                    0,
                    0,
                    True,
                ),
                (
                    4,
                    True,
                    True,
                    False,
                    False,
                    0.0,
                    0.0,
                    False,
                    True,
                    True,
                    False,
                    OBJ,
                    0,
                    0,
                    0,
                    True,
                ),
                (4, True, True, False, False, 0.0, 0.0, False, True, True, False, 4, 0, 0, 0, True),
                (5, 10**400),
                (6, float("inf")),
                (8, "x", 1.0),
                (8, 1.0, None),
                base[:1] + (known[0] if known else 1,) + base[2:],  # duplicate ref
                base[:4] + (2**53 + 1,) + base[5:],
                base[:4] + (-(2**54),) + base[5:],
                base[:4] + (2**130,) + base[5:],
                base[:4] + (10**400,) + base[5:],
                base[:5] + (8,) + base[6:],
                base[:5] + (True,) + base[6:],
                base[:5] + (2.0,) + base[6:],
                base[:5] + (0,) + (INF,) + base[7:],
                base[:5] + (5,) + (INF, -INF) + base[8:],
                base[:5] + (2,) + (100.0, float("nan")) + base[8:],
                base[:6] + (10**400,) + base[7:],
                base[:15] + (10**9,) + base[16:],
                base[:15] + (-2,) + base[16:],
                base[:16] + (10**9,) + base[17:],
                base[:17] + (False,) + base[18:20] + (True,),
                base[:15] + (known[0] if known else 1,) + base[16:20] + (True,),
                (7,) + base[1:18] + (True,) + base[19:20] + (False,),  # history with check
                (7,) + base[1:20] + (True,),
                (7,) + base[1:15] + (known[0] if known else 1,) + base[16:20] + (False,),
            ]
            if known:
                choices.append((3, known[-1], True))
            bad = rng.choice(choices)
            events.insert(rng.randrange(len(events) + 1), bad)
            if rng.random() < 0.3:  # the same event twice
                events.append(bad)
            return events
        # a wrong value in a random field of a random valid event
        template = rng.choice(
            [
                self.data_event(0),
                (1, 0),
                self.order_event(0),
                self.history_event(0),
                (3, known[0] if known else 1, False),
                self.config_event(),
                (5, 1000.0),
                (6, 1000.0),
                (8, 100.0, 1000.0),
            ]
        )
        k = rng.randrange(1, len(template))
        pool = list(GENERIC_BAD)
        finite_fields = {
            0: (4, 5, 6, 7, 8, 9),
            2: (8, 9, 10, 11, 12, 13),
            7: (8, 9, 10, 11, 12, 13),
            4: (5, 6, 12, 13, 14),
            5: (1,),
            6: (1,),
        }
        if k in finite_fields.get(template[0], ()):
            pool.append(10**400)  # OverflowError in math.isfinite in both
        bad = list(template)
        bad[k] = rng.choice(pool)
        events.insert(rng.randrange(len(events) + 1), tuple(bad))
        return events

    def corrupt_bars(self, bars):
        rng = self.rng
        r = rng.random()
        if r < 0.2 and bars:
            bars.pop(rng.randrange(len(bars)))
        elif r < 0.35 and bars:
            bars.append(bars[0])
        elif r < 0.5 and bars:
            k = rng.randrange(len(bars))
            bars[k] = list(bars[k]) if rng.random() < 0.5 else bars[k][:-1]
        elif r < 0.6:
            bars.append(rng.choice([5, None, (), "x" * 15]))
        elif r < 0.7:
            bars.append((99, self.dt) + (1.0,) * 12 + (1,))
        elif bars:
            k = rng.randrange(len(bars))
            j = rng.randrange(15)
            bar = list(bars[k])
            pool = GENERIC_BAD[:4] + [OBJ, -1, 2**130 if j == 0 else "y"]
            if j == 14:
                pool += [1.0, 730000.5]
            bar[j] = rng.choice(pool)
            bars[k] = tuple(bar)
        return bars

    # -- calls -------------------------------------------------------------------------------
    def hooks(self, name, filler_needed):
        """The callables for a call, as the adapter would pass them (sometimes wrongly)."""
        rng = self.rng
        if name == "step":
            f = filler_needed or rng.random() < 0.05
            if rng.random() < 0.02:
                f = False  # a callback filler without callable
            c = self.overrides and rng.random() < 0.97 or rng.random() < 0.03
            return (
                (self.cb_py.filler if f else None, self.cb_py.comm if c else None),
                (self.cb_rs.filler if f else None, self.cb_rs.comm if c else None),
            )
        c = self.overrides and rng.random() < 0.97
        return ((self.cb_py.comm if c else None,), (self.cb_rs.comm if c else None,))

    def both(self, name, *args, hooks=((), ())):
        a = outcome(lambda: getattr(self.py, name)(*args, *hooks[0]))
        b = outcome(lambda: getattr(self.rs, name)(*args, *hooks[1]))
        same(a, b, f"seed {self.seed} {name}{args!r}")
        same(self.cb_py.log, self.cb_rs.log, f"seed {self.seed} callback calls of {name}")
        COUNTS["callbacks"] += len(self.cb_py.log)
        self.cb_py.log.clear()
        self.cb_rs.log.clear()
        same(self.py.state(), self.rs.state(), f"seed {self.seed} state after {name}{args!r}")
        COUNTS[name] += 1
        live = [o for o in self.py.pending if o is not None]
        if len(live) != len({id(o) for o in live}):
            COUNTS["calls with a twin in pending"] += 1
        if None in self.py.pending:
            COUNTS["calls with a stale sentinel"] += 1
        if a[0] != "ok":
            COUNTS["errors"] += 1
            COUNTS["error " + a[0]] += 1
            if name in ("step", "apply"):  # re-send the data registrations that were refused
                self.pending_events.extend(
                    e
                    for e in args[0]
                    if isinstance(e, tuple)
                    and len(e) == 13
                    and e[0] == 0
                    and isinstance(e[1], int)
                    and e[1] < 10
                    and type(e[8]) is float
                    and e[8] > 0
                    and e[1] not in self.py.comm
                    and e[12] == -1
                )
        else:
            records = a[1][0] if name == "step" else a[1] if name == "apply" else []
            for rec in records:
                COUNTS["records"] += 1
                COUNTS[REC_NAMES[rec[0]]] += 1
        return a

    def filler_after(self, events):
        filler = self.py.filler
        for ev in events:
            if isinstance(ev, tuple) and len(ev) == 16 and ev[0] == 4:
                filler = ev[11]
        return filler == 4

    def run(self, steps):
        rng = self.rng
        for _ in range(steps):
            r = rng.random()
            if r < 0.1:
                events = self.valid_events()
                if rng.random() < 0.2:
                    events = self.corrupt_event(events)
                self.both("apply", events)
            elif r < 0.2:
                datas = self.datas()
                if not datas:
                    continue
                n = rng.choice([1, 1, 2, 2, 3])
                ds = [rng.choice(datas) for _ in range(n)]
                closes = [self.prices.get(d, 100.0) * rng.uniform(0.95, 1.05) for d in ds]
                lever = rng.choice([False, True, 0, 1])
                if rng.random() < 0.15:
                    k = rng.randrange(4)
                    if k == 0:
                        ds = ds[:-1]
                    elif k == 1:
                        ds[0] = rng.choice(
                            [99, -1, True, 1.0, 0.0, -0.0, 1.5, "0", [0], None, 2**130]
                        )
                    elif k == 2:
                        closes[0] = rng.choice(
                            [float("nan"), float("inf"), None, "1", True, 10**400, 5]
                        )
                    else:
                        ds, closes = [], []
                self.both("value_of", ds, closes, lever, hooks=self.hooks("value_of", False))
            elif r < 0.23:
                self.py = pickle.loads(pickle.dumps(self.py))
                blob = pickle.dumps(self.rs, protocol=rng.choice([2, 4, 5]))
                self.rs = pickle.loads(blob) if rng.random() < 0.7 else copy.deepcopy(self.rs)
                same(self.py.state(), self.rs.state(), "state after pickle")
                COUNTS["pickle"] += 1
            else:
                events = self.valid_events()
                bars = self.bars(events)
                if rng.random() < 0.05:
                    events = self.corrupt_event(events)
                if rng.random() < 0.03:
                    bars = self.corrupt_bars(bars)
                hooks = self.hooks("step", self.filler_after(events))
                self.both("step", events, bars, hooks=hooks)


def pickled_twin_check(seed):
    """A pickled core and its original, stepped with the same input, stay identical."""
    sc = Scenario(seed)
    sc.run(40)
    twin = pickle.loads(pickle.dumps(sc.rs))
    cb_a, cb_b = Callbacks(seed), Callbacks(seed)
    for _ in range(40):
        events = sc.valid_events()
        bars = sc.bars(events)
        same(
            outcome(lambda: sc.rs.step(events, bars, cb_a.filler, cb_a.comm)),
            outcome(lambda: twin.step(events, bars, cb_b.filler, cb_b.comm)),
            "pickled twin",
        )
        same(cb_a.log, cb_b.log, "pickled twin callbacks")
        same(sc.rs.state(), twin.state(), "pickled twin state")
        COUNTS["twin steps"] += 1


def edge_cases():
    """Targeted paths the random scenarios reach rarely: KeyError of a cancel or OCO naming a
    history order of the same batch, a bracket child of a history order (rejected)."""
    from bt_cracktrader.core.contract import bar_tuple, data_event, submit_event

    def hist(ref):
        return (7,) + submit_event(ref, 0, 5, 100.0, 1.0, exectype=7, check=False)[1:]

    cases = [
        [data_event(0), hist(1), (3, 1, False)],
        [data_event(0), hist(1), submit_event(2, 0, 5, 100.0, 1.0, oco=1)],
        [data_event(0), hist(1), submit_event(2, 0, 5, 100.0, 1.0, parent=1)],
    ]
    for evs in cases:
        for call in ("apply", "step"):
            res = []
            for cls in (PyCore, RustCore):
                core = cls()
                if call == "apply":
                    first = outcome(lambda: core.apply(evs))
                else:
                    first = outcome(lambda: core.step(evs, [bar_tuple(0, 2.0, 100, 101, 99, 100)]))
                nxt = outcome(lambda: core.step([], [bar_tuple(0, 3.0, 100, 101, 99, 100)]))
                res.append((first, core.state(), nxt))
            same(res[0], res[1], f"edge case {call} {evs!r}")
            COUNTS["edge cases"] += 1
            COUNTS["edge " + res[0][0][0]] += 1


SCENARIOS = int(os.environ.get("BT_CRACKTRADER_FUZZ_SCENARIOS", "300"))
STEPS = int(os.environ.get("BT_CRACKTRADER_FUZZ_STEPS", "250"))


@pytest.mark.parametrize(
    "seed", range(1, SCENARIOS + 1), ids=[f"seed_{s}" for s in range(1, SCENARIOS + 1)]
)
def test_random_scenario_is_identical_on_both_cores(seed):
    Scenario(seed).run(STEPS)


@pytest.mark.parametrize("seed", range(1, 6))
def test_a_pickled_rust_core_stays_identical_to_its_original(seed):
    pickled_twin_check(seed)


def test_edge_cases():
    edge_cases()
