//! The Redis registry's login and TLS options, one definition for every command that takes
//! them: `APP run --registry URL` and `cohort disco --registry redis` (which flattens
//! [`RedisArgs`] into its own options). What they mean is checked by
//! [`cohort_discovery::RedisOptions`].

use std::path::PathBuf;

use clap::Args;
use cohort_discovery::RedisOptions;

/// How to log in to the Redis registry and check its certificate.
#[derive(Debug, Clone, Default, Args)]
pub struct RedisArgs {
    /// The Redis ACL user to log in as [default: the `default` user]; needs a password.
    #[arg(long, value_name = "NAME")]
    pub redis_user: Option<String>,
    /// A file holding the Redis password: its one line, the final newline dropped. It must be
    /// readable by its owner only (`chmod 600 FILE`). Or set the COHORT_REDIS_PASSWORD
    /// environment variable instead (not both).
    #[arg(long, value_name = "FILE")]
    pub redis_password_file: Option<PathBuf>,
    /// A PEM file with the certificate of the authority that signed the Redis server's
    /// certificate, for a rediss:// URL [default: the system's trusted roots].
    #[arg(long, value_name = "FILE")]
    pub redis_ca: Option<PathBuf>,
}

impl RedisArgs {
    /// The options of the server at `url`, its entries living the default TTL.
    pub fn options(&self, url: &str) -> RedisOptions {
        RedisOptions {
            user: self.redis_user.clone(),
            password_file: self.redis_password_file.clone(),
            ca: self.redis_ca.clone(),
            ..RedisOptions::new(url)
        }
    }

    /// The arguments that give another process these options, with absolute paths (the
    /// process may run elsewhere). The password itself is never an argument: a process started
    /// with them reads the same file, or inherits `COHORT_REDIS_PASSWORD`.
    pub(crate) fn to_args(&self) -> Result<Vec<String>, String> {
        let mut args = Vec::new();
        if let Some(user) = &self.redis_user {
            args.extend(["--redis-user".to_owned(), user.clone()]);
        }
        for (flag, path) in [("--redis-password-file", &self.redis_password_file), ("--redis-ca", &self.redis_ca)] {
            if let Some(path) = path {
                let path = std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
                args.extend([flag.to_owned(), path.display().to_string()]);
            }
        }
        Ok(args)
    }
}
