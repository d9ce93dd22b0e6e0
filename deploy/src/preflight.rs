//! The checks made before any host is contacted: the deployment and the hosts file name the
//! same hosts, the files exist, the binary is an ELF binary of a known machine, the key file
//! belongs to the app and is private, a registry is given for several hosts. Every problem is
//! reported at once; the result is a [`Plan`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cohort_model::deployment::{Deployment, Location};
use cohort_model::{check_deployment_against, compile_app_model, compile_deployment, render_all, SourceFile};
use cohort_ports::keyfile::{app_key_path, default_keys_dir};
use cohort_ports::{KeyFile, KeyFileError};

use crate::elf::{ElfError, Machine};
use crate::hosts::{HostEntry, HostsFile};
use crate::plan::{Plan, RegistryFiles, Upload};

/// A problem found before any host is contacted; nothing has been changed anywhere.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreflightError {
    /// The deployment could not be read: fix the path.
    #[error("cannot read the deployment {path}: {source}")]
    ReadDeployment {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The deployment or the model has errors (shown as `cohort check` shows them).
    #[error("{0}")]
    Diagnostics(String),
    /// The deployment places actors on hosts the hosts file does not have: add them to it.
    #[error(
        "the deployment {deployment} places actors on {}, which the hosts file {hosts_file} does not have: add a [hosts.NAME] table for each",
        names(hosts)
    )]
    HostsMissing {
        /// The deployment.
        deployment: PathBuf,
        /// The hosts file.
        hosts_file: PathBuf,
        /// The hosts it lacks.
        hosts: Vec<String>,
    },
    /// The hosts file has hosts on which the deployment places nothing: remove them, or add
    /// them to the deployment.
    #[error(
        "the hosts file {hosts_file} has {}, on which the deployment {deployment} places no actor: remove them from the hosts file or place actors there",
        names(hosts)
    )]
    HostsUnused {
        /// The deployment.
        deployment: PathBuf,
        /// The hosts file.
        hosts_file: PathBuf,
        /// The hosts it has in excess.
        hosts: Vec<String>,
    },
    /// The app's binary cannot be read or is not an ELF binary.
    #[error(transparent)]
    Binary(#[from] ElfError),
    /// The binary is built for a machine whose `uname -m` name this check does not know.
    #[error("{path} is built for {machine}, which `cohort deploy` cannot match with a host's `uname -m`")]
    UnknownMachine {
        /// The binary.
        path: PathBuf,
        /// Its machine.
        machine: String,
    },
    /// The app's key file is missing, unreadable, open to others or not valid.
    #[error("{0}")]
    KeyFile(#[from] KeyFileError),
    /// No key file was given and the default one does not exist.
    #[error(
        "no key file for app {app}: {path} does not exist; make one with `cohort keygen {app}`, or give --keys FILE (or --insecure)"
    )]
    NoKeys {
        /// The app.
        app: String,
        /// The default key file.
        path: PathBuf,
    },
    /// The key file is another app's: give the right one.
    #[error("{path} holds the keys of {found}, not of app {app}")]
    KeysOfAnotherApp {
        /// The key file.
        path: PathBuf,
        /// Whose keys it holds.
        found: String,
        /// The deployment's app.
        app: String,
    },
    /// Several hosts and no shared registry: give `--registry redis://…`.
    #[error(
        "the app runs on {hosts} hosts, whose discovery daemons must share a registry: give --registry redis://HOST:PORT/"
    )]
    NoRegistry {
        /// How many hosts.
        hosts: usize,
    },
    /// A registry URL or file is wrong.
    #[error("{0}")]
    Registry(String),
    /// A file to copy is missing or not a regular file.
    #[error("cannot copy {path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Two files would land under the same name in the app's folder: rename one.
    #[error("two files would be copied as {name} on the hosts: rename {path}")]
    NameClash {
        /// The name.
        name: String,
        /// The second file of that name.
        path: PathBuf,
    },
}

/// `a, b` as `` `a`, `b` ``, for messages.
fn names(hosts: &[String]) -> String {
    let quoted: Vec<String> = hosts.iter().map(|h| format!("`{h}`")).collect();
    quoted.join(", ")
}

/// How the app is secured on its hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys {
    /// This key file, copied to every host.
    File(PathBuf),
    /// The app's key file in this user's key directory (`cohort keygen APP` makes it).
    Default,
    /// No CURVE (`APP run --insecure`).
    Insecure,
}

/// The shared registry of the hosts' discovery daemons (`APP run --registry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// `redis://HOST[:PORT][/DB]` or `rediss://…`.
    pub url: String,
    /// The Redis ACL user.
    pub user: Option<String>,
    /// A local file with the Redis password (mode 0600), copied to each host.
    pub password_file: Option<PathBuf>,
    /// A local PEM file with the CA of a `rediss://` server's certificate, copied to each host.
    pub ca: Option<PathBuf>,
}

/// What `cohort deploy up` is asked to deploy.
#[derive(Debug, Clone)]
pub struct UpRequest {
    /// The deployment (`.depl`).
    pub deployment: PathBuf,
    /// The app's binary.
    pub binary: PathBuf,
    /// A model file the launcher uses instead of the one built into the binary.
    pub model: Option<PathBuf>,
    /// How the app is secured.
    pub keys: Keys,
    /// The shared registry, needed for more than one host.
    pub registry: Option<Registry>,
}

/// What a deployment says about hosts: its app, and where it places actors.
#[derive(Debug, Clone)]
pub struct DeployedHosts {
    /// The deployment file.
    pub path: PathBuf,
    /// The app it deploys.
    pub app: String,
    /// The hosts named by its placements.
    pub named: BTreeSet<String>,
    /// Whether it places actors `on all` hosts.
    pub on_all: bool,
    /// The deployment itself.
    pub deployment: Deployment,
    /// Its text, for diagnostics.
    pub source: SourceFile,
}

impl DeployedHosts {
    /// Reads and checks the deployment at `path`.
    pub fn read(path: &Path) -> Result<DeployedHosts, PreflightError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| PreflightError::ReadDeployment { path: path.to_owned(), source })?;
        let source = SourceFile::new(path.display().to_string(), text);
        let compiled = compile_deployment(&source.text);
        let Some(deployment) = compiled.value else {
            return Err(PreflightError::Diagnostics(render_all(&compiled.diagnostics, &source)));
        };
        let mut named = BTreeSet::new();
        let mut on_all = false;
        for placement in &deployment.placements {
            match &placement.location {
                Location::All => on_all = true,
                Location::Hosts(hosts) => named.extend(hosts.iter().map(|h| h.name.clone())),
            }
        }
        Ok(DeployedHosts { path: path.to_owned(), app: deployment.app.name.clone(), named, on_all, deployment, source })
    }

    /// The hosts of `hosts` this deployment runs on, in the order of their names; an error for
    /// every host named on one side only (a hosts-file host is fine when the deployment places
    /// actors `on all`).
    pub fn match_hosts<'h>(&self, hosts: &'h HostsFile) -> Result<Vec<&'h HostEntry>, Vec<PreflightError>> {
        let mut errors = Vec::new();
        let missing: Vec<String> = self.named.iter().filter(|h| !hosts.hosts.contains_key(*h)).cloned().collect();
        if !missing.is_empty() {
            errors.push(PreflightError::HostsMissing {
                deployment: self.path.clone(),
                hosts_file: hosts.path.clone(),
                hosts: missing,
            });
        }
        if !self.on_all {
            let unused: Vec<String> = hosts.hosts.keys().filter(|h| !self.named.contains(*h)).cloned().collect();
            if !unused.is_empty() {
                errors.push(PreflightError::HostsUnused {
                    deployment: self.path.clone(),
                    hosts_file: hosts.path.clone(),
                    hosts: unused,
                });
            }
        }
        if errors.is_empty() {
            Ok(hosts.hosts.values().collect())
        } else {
            Err(errors)
        }
    }
}

/// Checks everything `deploy up` can check without a host, and reports every problem at once;
/// the plan when there is none.
pub fn preflight(request: &UpRequest, hosts: &HostsFile) -> Result<Plan, Vec<PreflightError>> {
    let deployed = DeployedHosts::read(&request.deployment).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let targets = deployed.match_hosts(hosts).unwrap_or_else(|e| {
        errors.extend(e);
        Vec::new()
    });
    let app = deployed.app.clone();
    if let Some(model) = &request.model {
        if let Err(e) = check_model(model, &deployed) {
            errors.push(e);
        }
    }
    let machine = match Machine::of_file(&request.binary) {
        Ok(machine) if machine.name().is_none() => {
            errors.push(PreflightError::UnknownMachine { path: request.binary.clone(), machine: machine.describe() });
            None
        }
        Ok(machine) => Some(machine),
        Err(e) => {
            errors.push(e.into());
            None
        }
    };
    let mut uploads = Vec::new();
    let mut add = |local: &Path, name: String, mode: u32, errors: &mut Vec<PreflightError>| match regular_file(local) {
        Ok(size) => uploads.push(Upload { local: local.to_owned(), name, mode, size }),
        Err(why) => errors.push(PreflightError::File { path: local.to_owned(), why }),
    };
    let binary = file_name(&request.binary);
    add(&request.binary, binary.clone(), 0o755, &mut errors);
    let deployment = file_name(&request.deployment);
    add(&request.deployment, deployment.clone(), 0o644, &mut errors);
    let model = request.model.as_ref().map(|m| {
        let name = file_name(m);
        add(m, name.clone(), 0o644, &mut errors);
        name
    });
    let keys = match key_file(&request.keys, &app) {
        Ok(Some(path)) => {
            let name = format!("{app}.key");
            add(&path, name.clone(), 0o600, &mut errors);
            Some(name)
        }
        Ok(None) => None,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let registry = match &request.registry {
        Some(registry) => match check_registry(registry) {
            Ok(()) => {
                let password_file = registry.password_file.as_ref().map(|p| {
                    add(p, "redis.password".to_owned(), 0o600, &mut errors);
                    "redis.password".to_owned()
                });
                let ca = registry.ca.as_ref().map(|p| {
                    add(p, "redis-ca.pem".to_owned(), 0o644, &mut errors);
                    "redis-ca.pem".to_owned()
                });
                Some(RegistryFiles { url: registry.url.clone(), user: registry.user.clone(), password_file, ca })
            }
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None if targets.len() > 1 => {
            errors.push(PreflightError::NoRegistry { hosts: targets.len() });
            None
        }
        None => None,
    };
    let mut seen = BTreeSet::new();
    for upload in &uploads {
        if !seen.insert(upload.name.clone()) || crate::plan::is_generated_name(&upload.name) {
            errors.push(PreflightError::NameClash { name: upload.name.clone(), path: upload.local.clone() });
        }
    }
    match machine {
        Some(machine) if errors.is_empty() => Ok(Plan {
            app,
            machine,
            binary,
            deployment,
            model,
            keys,
            registry,
            uploads,
            hosts: targets.into_iter().cloned().collect(),
        }),
        _ => Err(errors),
    }
}

/// The model's app must be the deployment's, and the deployment must fit it.
fn check_model(path: &Path, deployed: &DeployedHosts) -> Result<(), PreflightError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PreflightError::File { path: path.to_owned(), why: e.to_string() })?;
    let source = SourceFile::new(path.display().to_string(), text);
    let compiled = compile_app_model(&source.text);
    let Some(model) = compiled.value else {
        return Err(PreflightError::Diagnostics(render_all(&compiled.diagnostics, &source)));
    };
    let Some(app) = model.apps.iter().find(|a| a.name.name == deployed.app) else {
        let declared: Vec<String> = model.apps.iter().map(|a| a.name.name.clone()).collect();
        return Err(PreflightError::Diagnostics(format!(
            "{}: declares no app `{}` (the deployment's app); it declares {}",
            path.display(),
            deployed.app,
            names(&declared)
        )));
    };
    let diagnostics = check_deployment_against(&deployed.deployment, app);
    if diagnostics.iter().any(cohort_model::Diagnostic::is_error) {
        return Err(PreflightError::Diagnostics(render_all(&diagnostics, &deployed.source)));
    }
    Ok(())
}

/// The key file to copy, checked: `None` with `--insecure`.
fn key_file(keys: &Keys, app: &str) -> Result<Option<PathBuf>, PreflightError> {
    let path = match keys {
        Keys::Insecure => return Ok(None),
        Keys::File(path) => path.clone(),
        Keys::Default => {
            let path = app_key_path(&default_keys_dir()?, app);
            if !path.exists() {
                return Err(PreflightError::NoKeys { app: app.to_owned(), path });
            }
            path
        }
    };
    let file = KeyFile::read(&path)?;
    match file.app {
        Some(found) if found == app => Ok(Some(path)),
        Some(found) => {
            Err(PreflightError::KeysOfAnotherApp { path, found: format!("app {found}"), app: app.to_owned() })
        }
        None => {
            Err(PreflightError::KeysOfAnotherApp { path, found: "a discovery daemon".to_owned(), app: app.to_owned() })
        }
    }
}

/// The registry's URL scheme, and its password file's mode.
fn check_registry(registry: &Registry) -> Result<(), PreflightError> {
    let url = &registry.url;
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) || url.contains(char::is_whitespace) {
        return Err(PreflightError::Registry(format!(
            "--registry {url:?}: expected redis://HOST[:PORT][/DB] or rediss://…"
        )));
    }
    if url.split_once("://").is_some_and(|(_, rest)| rest.split('/').next().is_some_and(|auth| auth.contains('@'))) {
        return Err(PreflightError::Registry(
            "--registry: put no user or password in the URL (it shows in `ps` on every host); use --redis-user and --redis-password-file".into(),
        ));
    }
    if registry.user.is_some() && registry.password_file.is_none() {
        return Err(PreflightError::Registry("--redis-user needs --redis-password-file".into()));
    }
    if let Some(path) = &registry.password_file {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| PreflightError::File { path: path.clone(), why: e.to_string() })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(PreflightError::File {
                path: path.clone(),
                why: format!(
                    "a password file must be private (mode {:04o}): `chmod 600 {}`",
                    mode & 0o7777,
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// The size of the regular file at `path`, or why it cannot be copied.
fn regular_file(path: &Path) -> Result<u64, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    std::fs::File::open(path).map_err(|e| e.to_string())?;
    Ok(meta.len())
}

/// The last component of `path`, as the name of its copy on the hosts.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A folder of test files, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("cohort-deploy-preflight-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, name: &str, text: &[u8], mode: u32) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const DEPL: &str = "app Microgrid {\n    on (host-a) Unit1, Unit2;\n    on (host-b) Unit3;\n}\n";

    fn hosts(text: &str) -> HostsFile {
        HostsFile::parse(Path::new("hosts.toml"), text, Path::new("/"), None).unwrap()
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut h = b"\x7fELF\x02\x01\x01".to_vec();
        h.resize(18, 0);
        h.extend(machine.to_le_bytes());
        h.resize(64, 0);
        h
    }

    fn request(scratch: &Scratch, depl: &str) -> UpRequest {
        UpRequest {
            deployment: scratch.write("app.depl", depl.as_bytes(), 0o644),
            binary: scratch.write("microgrid", &elf(62), 0o755),
            model: None,
            keys: Keys::Insecure,
            registry: Some(Registry {
                url: "redis://10.0.0.9:6379/".into(),
                user: None,
                password_file: None,
                ca: None,
            }),
        }
    }

    const TWO_HOSTS: &str = "[hosts.host-a]\naddress = \"a\"\n[hosts.host-b]\naddress = \"b\"\n";

    #[test]
    fn a_matching_deployment_and_hosts_file_give_a_plan() {
        let scratch = Scratch::new("ok");
        let plan = preflight(&request(&scratch, DEPL), &hosts(TWO_HOSTS)).unwrap();
        assert_eq!(plan.app, "Microgrid");
        assert_eq!(plan.hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["host-a", "host-b"]);
        assert_eq!(plan.machine.name(), Some("x86_64"));
        let names: Vec<&str> = plan.uploads.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["microgrid", "app.depl"]);
    }

    #[test]
    fn hosts_named_on_one_side_only_are_all_reported() {
        let scratch = Scratch::new("names");
        let file = hosts("[hosts.host-a]\naddress = \"a\"\n[hosts.host-z]\naddress = \"z\"\n");
        let errors = preflight(&request(&scratch, DEPL), &file).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{text:?}");
        assert!(
            text[0].contains("places actors on `host-b`, which the hosts file hosts.toml does not have"),
            "{}",
            text[0]
        );
        assert!(text[1].contains("has `host-z`, on which the deployment"), "{}", text[1]);
    }

    #[test]
    fn a_deployment_on_all_hosts_takes_every_host_of_the_file() {
        let scratch = Scratch::new("all");
        let depl = "app Microgrid {\n    on all Unit1;\n    on (host-a) Unit2;\n}\n";
        let file = hosts("[hosts.host-a]\naddress = \"a\"\n[hosts.host-q]\naddress = \"q\"\n");
        let plan = preflight(&request(&scratch, depl), &file).unwrap();
        assert_eq!(plan.hosts.len(), 2);
        let file = hosts("[hosts.host-q]\naddress = \"q\"\n");
        let errors = preflight(&request(&scratch, depl), &file).unwrap_err();
        assert!(matches!(&errors[..], [PreflightError::HostsMissing { hosts, .. }] if hosts == &["host-a"]));
    }

    #[test]
    fn a_binary_that_is_no_elf_or_of_an_unknown_machine_is_refused() {
        let scratch = Scratch::new("elf");
        let mut req = request(&scratch, DEPL);
        req.binary = scratch.write("script", b"#!/bin/sh\nexec true\n................", 0o755);
        let errors = preflight(&req, &hosts(TWO_HOSTS)).unwrap_err();
        assert!(errors[0].to_string().contains("is not an ELF binary (no ELF magic number)"), "{}", errors[0]);
        req.binary = scratch.write("odd", &elf(9999), 0o755);
        let errors = preflight(&req, &hosts(TWO_HOSTS)).unwrap_err();
        assert!(errors[0].to_string().contains("built for ELF machine 9999"), "{}", errors[0]);
    }

    #[test]
    fn several_hosts_need_a_registry() {
        let scratch = Scratch::new("registry");
        let mut req = request(&scratch, DEPL);
        req.registry = None;
        let errors = preflight(&req, &hosts(TWO_HOSTS)).unwrap_err();
        assert!(matches!(&errors[..], [PreflightError::NoRegistry { hosts: 2 }]), "{errors:?}");
        req.registry =
            Some(Registry { url: "redis://me:secret@10.0.0.9/".into(), user: None, password_file: None, ca: None });
        let errors = preflight(&req, &hosts(TWO_HOSTS)).unwrap_err();
        assert!(errors[0].to_string().contains("put no user or password in the URL"), "{}", errors[0]);
        let open = scratch.write("redis.password", b"secret\n", 0o644);
        req.registry =
            Some(Registry { url: "redis://10.0.0.9/".into(), user: None, password_file: Some(open), ca: None });
        let errors = preflight(&req, &hosts(TWO_HOSTS)).unwrap_err();
        assert!(errors[0].to_string().contains("chmod 600"), "{}", errors[0]);
    }

    #[test]
    fn a_key_file_must_be_private_and_the_apps() {
        let scratch = Scratch::new("keys");
        let mut req = request(&scratch, DEPL);
        let keys = KeyFile::for_app("Other", cohort_ports::AppKeys::generate().unwrap()).unwrap().to_text();
        req.keys = Keys::File(scratch.write("Other.key", keys.as_bytes(), 0o600));
        let errors = preflight(&req, &hosts(TWO_HOSTS)).unwrap_err();
        assert!(errors.iter().any(|e| e.to_string().contains("not of app Microgrid")), "{errors:?}");
        req.keys = Keys::File(scratch.write("Open.key", keys.as_bytes(), 0o644));
        let errors = preflight(&req, &hosts(TWO_HOSTS)).unwrap_err();
        assert!(errors.iter().any(|e| e.to_string().contains("chmod 600")), "{errors:?}");
    }

    #[test]
    fn a_model_that_does_not_fit_the_deployment_is_refused() {
        let scratch = Scratch::new("model");
        let mut req = request(&scratch, DEPL);
        let model = "app Microgrid {\n message M;\n component C { timer t 1000; }\n actor Unit1 { { c : C; } }\n}\n";
        req.model = Some(scratch.write("microgrid.riaps", model.as_bytes(), 0o644));
        let errors = preflight(&req, &hosts(TWO_HOSTS)).unwrap_err();
        assert!(errors.iter().any(|e| e.to_string().contains("Unit2")), "{errors:?}");
    }
}
