//! `cohort keygen`: makes an app's CURVE keypair and writes its key file.

use std::io::Write as _;

use anyhow::{anyhow, Context as _};
use cohort_ports::keyfile::{app_key_path, default_keys_dir, valid_app_name};
use cohort_ports::{AppKeys, KeyFile, KeyFileError};

use super::{Failure, KeygenArgs};

/// Writes the key file and prints where, and the public key.
pub(crate) fn run(args: &KeygenArgs) -> Result<(), Failure> {
    if !valid_app_name(&args.app) {
        return Err(
            anyhow!("{:?} is not an app name (letters, digits and _, not starting with a digit)", args.app).into()
        );
    }
    let path = match &args.out {
        Some(path) => path.clone(),
        None => app_key_path(&default_keys_dir().context("give --out FILE")?, &args.app),
    };
    let keys = AppKeys::generate().context("cannot make CURVE keys")?;
    let file = KeyFile::for_app(&args.app, keys).context("cannot make the key file")?;
    match file.write(&path, args.force) {
        Ok(()) => {}
        Err(e @ KeyFileError::Exists { .. }) => {
            return Err(
                anyhow!("{e}; give --force to replace it (then copy the new file to every host of the app)").into()
            )
        }
        Err(e) => return Err(anyhow::Error::from(e).into()),
    }
    let text = format!(
        "wrote the keys of app {} to {} (mode 0600; copy it to the app's other hosts)\npublic key: {}\n",
        args.app,
        path.display(),
        file.keys.public_z85()
    );
    std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write to standard output")?;
    Ok(())
}
