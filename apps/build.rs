//! Generates the typed layer of each example app from its model (`cohort-build`): the ports,
//! handler traits, parameters, group types and component registry its component code implements.

use std::process::ExitCode;

fn main() -> ExitCode {
    // (model, the module of the app's message types, the module of its component types)
    let apps = [
        ("estimator/estimator.riaps", "crate::estimator::messages", "crate::estimator"),
        ("microgrid/microgrid.riaps", "crate::microgrid::messages", "crate::microgrid"),
        ("budgets/budgets.riaps", "crate::budgets::messages", "crate::budgets"),
        // The runtime benchmark's app (apps/benches/runtime.rs).
        ("benches/bench.riaps", "crate::messages", "crate::components"),
    ];
    for (model, messages, components) in apps {
        let generated = cohort_build::Config::new().messages_path(messages).components_path(components).compile(model);
        if let Err(e) = generated {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
