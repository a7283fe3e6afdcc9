//! A small JSON reader for the ledger tests: JSON as Python's `json` reads it, into
//! [`LValue`]s: object items keep their order, an int is an `int` and a number with a fraction
//! or an exponent a `float` (parsed to the exact double Python wrote, correctly rounded),
//! `NaN`/`Infinity`/`-Infinity` are floats.

#![allow(dead_code, reason = "each test crate uses a part of the helpers")]

use cracktrader_core::LValue;

/// Parse a JSON text.
pub fn parse(text: &str) -> LValue {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let value = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "trailing data after the JSON value");
    value
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> u8 {
        *self.s.get(self.i).expect("unexpected end of JSON")
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) {
        self.ws();
        assert_eq!(self.peek(), c, "expected {:?} at {}", c as char, self.i);
        self.i += 1;
    }

    fn value(&mut self) -> LValue {
        self.ws();
        match self.peek() {
            b'{' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == b'}' {
                    self.i += 1;
                    return LValue::Dict(items);
                }
                loop {
                    self.ws();
                    let key = self.string();
                    self.expect(b':');
                    let value = self.value();
                    items.push((LValue::Str(key), value));
                    self.ws();
                    if self.peek() == b',' {
                        self.i += 1;
                    } else {
                        self.expect(b'}');
                        return LValue::Dict(items);
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == b']' {
                    self.i += 1;
                    return LValue::List(items);
                }
                loop {
                    items.push(self.value());
                    self.ws();
                    if self.peek() == b',' {
                        self.i += 1;
                    } else {
                        self.expect(b']');
                        return LValue::List(items);
                    }
                }
            }
            b'"' => LValue::Str(self.string()),
            _ if self.eat("null") => LValue::None,
            _ if self.eat("true") => LValue::Bool(true),
            _ if self.eat("false") => LValue::Bool(false),
            _ if self.eat("NaN") => LValue::Float(f64::NAN),
            _ if self.eat("Infinity") => LValue::Float(f64::INFINITY),
            _ if self.eat("-Infinity") => LValue::Float(f64::NEG_INFINITY),
            _ => self.number(),
        }
    }

    fn number(&mut self) -> LValue {
        let start = self.i;
        let mut float = false;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => float = true,
                _ => break,
            }
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).expect("ascii");
        if float {
            LValue::Float(text.parse().expect("a float"))
        } else {
            LValue::Int(text.parse().expect("an int"))
        }
    }

    fn hex4(&mut self) -> u32 {
        let text = std::str::from_utf8(&self.s[self.i..self.i + 4]).expect("ascii");
        self.i += 4;
        u32::from_str_radix(text, 16).expect("hex digits")
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek();
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).expect("utf-8"),
                b'\\' => {
                    let e = self.peek();
                    self.i += 1;
                    let ch = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hi = self.hex4();
                            let code = if (0xD800..0xDC00).contains(&hi) && self.eat("\\u") {
                                let lo = self.hex4();
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        other => other as char,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

/// A compact dump of a value, to show in a failed assertion.
pub fn show(value: &LValue) -> String {
    value.py_repr()
}
