//! Loom mutants: `DCC_MCP_LOOM_MUTANT=<name>` plants one fault (`cfg(dcc_mcp_loom_mutant)`) for
//! `scripts/loom_mutants.sh`. Through the environment rather than `RUSTFLAGS`, so switching
//! mutants rebuilds this crate and its dependents only, not every dependency. Does nothing
//! unless the variable is set.

fn main() {
    println!("cargo::rerun-if-env-changed=DCC_MCP_LOOM_MUTANT");
    if let Ok(m) = std::env::var("DCC_MCP_LOOM_MUTANT") {
        if !m.is_empty() {
            println!("cargo::rustc-cfg=dcc_mcp_loom_mutant=\"{m}\"");
        }
    }
}
