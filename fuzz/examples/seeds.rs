//! Writes the seed inputs of the fuzz targets to `seeds/<target>/` (replacing what is there):
//! valid frames and message sequences for `port_frame`, `discovery_protocol` and `group_wire`.
//! The seeds of `model_parser` are RIAPS models copied by hand.
//!
//! Run from `fuzz/` with `cargo run --example seeds` (any toolchain).

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let sets = [
        ("port_frame", cohort_fuzz::port_frame_seeds()),
        ("discovery_protocol", cohort_fuzz::discovery_seeds()),
        ("group_wire", cohort_fuzz::group_seeds()),
    ];
    for (target, seeds) in sets {
        let dir = root.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), seed)?;
        }
        println!("{}: {} seeds", dir.display(), seeds.len());
    }
    Ok(())
}
