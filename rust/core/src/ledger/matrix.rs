//! The legal order-status transitions: the table of
//! `bt_cracktrader/core/schema/transitions.json` (a test checks that they are equal).

/// Version of the transition matrix file.
pub const MATRIX_VERSION: i64 = 1;

/// Order statuses, Backtrader's names.
pub const STATES: [&str; 9] = [
    "Created",
    "Submitted",
    "Accepted",
    "Partial",
    "Completed",
    "Canceled",
    "Expired",
    "Margin",
    "Rejected",
];

/// Statuses an order never leaves.
pub const TERMINAL: [&str; 5] = ["Completed", "Canceled", "Expired", "Margin", "Rejected"];

/// `status -> statuses it may move to`, in the file's order.
pub const TRANSITIONS: [(&str, &[&str]); 9] = [
    ("Created", &["Submitted"]),
    (
        "Submitted",
        &["Accepted", "Canceled", "Expired", "Margin", "Rejected"],
    ),
    (
        "Accepted",
        &["Partial", "Completed", "Canceled", "Expired", "Rejected"],
    ),
    ("Partial", &["Partial", "Completed", "Canceled", "Expired"]),
    ("Completed", &[]),
    ("Canceled", &[]),
    ("Expired", &[]),
    ("Margin", &[]),
    ("Rejected", &[]),
];

/// `status in TERMINAL`.
#[must_use]
pub fn is_terminal(status: &str) -> bool {
    TERMINAL.contains(&status)
}

/// `to in TRANSITIONS[from]` (`false` for an unknown `from`).
#[must_use]
pub fn can_move(from: &str, to: &str) -> bool {
    TRANSITIONS
        .iter()
        .find(|(state, _)| *state == from)
        .is_some_and(|(_, targets)| targets.contains(&to))
}
