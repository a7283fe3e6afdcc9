//! `bt_cracktrader._rust`: Python bindings of the Rust core (placeholder).

use pyo3::prelude::*;

/// Version of the Rust core crate.
#[pyfunction]
fn core_version() -> &'static str {
    cracktrader_core::version()
}

/// The `bt_cracktrader._rust` extension module.
#[pymodule]
fn _rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(core_version, m)?)?;
    Ok(())
}
