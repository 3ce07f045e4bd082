//! Child processes of the control plane: spawned so that they cannot outlive the test process,
//! stopped by their saved PID, and logged to files whose tails explain a failed start.
//!
//! Three mechanisms together guarantee that no etcd or kube-apiserver is left behind:
//! - every child is forked by one dedicated thread that lives as long as the process and asks the
//!   kernel (`PR_SET_PDEATHSIG`) to SIGKILL the child when that thread dies, which happens at the
//!   latest when the test process exits or is killed, with or without destructors;
//! - dropping a running control plane stops its processes (SIGTERM, then SIGKILL);
//! - an `atexit` handler stops the control planes that are still registered when the process exits
//!   normally, which covers the shared one kept in a static (statics are never dropped), and
//!   removes their temporary directories.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

/// How long a component gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One running component (etcd, kube-apiserver, kube-controller-manager).
pub(crate) struct Component {
    name: &'static str,
    child: Child,
    log: PathBuf,
    /// How it was started, to start it again ([`Component::restart`]).
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Component {
    /// Starts `program` with `args`, appending its stdout and stderr to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        args: &[String],
        log: PathBuf,
    ) -> Result<Self> {
        Self::spawn_with_env(name, program, args, &[], log)
    }

    /// Like [`Component::spawn`], with extra environment variables.
    pub(crate) fn spawn_with_env(
        name: &'static str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
        log: PathBuf,
    ) -> Result<Self> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("duplicating the handle of {}", log.display()))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = spawn_tied_to_process(cmd)
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        tracing::debug!(component = name, pid = child.id(), "started");
        Ok(Self {
            name,
            child,
            log,
            program: program.to_path_buf(),
            args: args.to_vec(),
            env: env.to_vec(),
        })
    }

    /// Stops the component and starts it again as it was started (same arguments, ports and
    /// data directory; its log is appended to).
    pub(crate) fn restart(&mut self) -> Result<()> {
        self.stop();
        let again = Self::spawn_with_env(
            self.name,
            &self.program,
            &self.args,
            &self.env,
            self.log.clone(),
        )?;
        *self = again;
        Ok(())
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the component has exited (it is reaped; its PID is not reused before).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the component's log.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// SIGTERM by saved PID, then SIGKILL if it is still running after the grace period.
    pub(crate) fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // The child is not reaped yet (try_wait returned None), so the PID still names it.
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) with a PID of our own unreaped child and a valid signal number.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(
            component = self.name,
            "did not stop after SIGTERM; killing it"
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `lines` lines of a file (at most its last 64 KiB), or a note saying why there are none.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

struct SpawnRequest {
    cmd: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// Spawns `cmd` from the process-long spawner thread with a parent-death signal, so the kernel
/// kills the child when this process goes away, however it goes away.
pub(crate) fn spawn_tied_to_process(mut cmd: Command) -> Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();

    let parent = libc::pid_t::try_from(std::process::id()).context("this process's PID")?;
    // SAFETY: the closure runs in the forked child before exec and only calls async-signal-safe
    // functions (prctl, getppid).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then nobody would signal us.
            if libc::getppid() != parent {
                return Err(io::Error::other("the test process exited during the spawn"));
            }
            Ok(())
        });
    }

    let spawner = match SPAWNER.get() {
        Some(spawner) => spawner,
        None => {
            let (tx, rx) = mpsc::channel::<SpawnRequest>();
            thread::Builder::new()
                .name("controlplane-spawner".into())
                .spawn(move || {
                    // PR_SET_PDEATHSIG fires when the forking *thread* exits. This thread only
                    // ends when the process does, because the sender lives in a static.
                    for mut request in rx {
                        let _ = request.reply.send(request.cmd.spawn());
                    }
                })
                .context("starting the control-plane spawner thread")?;
            // A concurrent caller may have won the race; its spawner is as good as ours, and the
            // thread we started exits when `tx` is dropped here.
            SPAWNER.get_or_init(|| tx)
        }
    };

    let (reply, response) = mpsc::channel();
    spawner
        .send(SpawnRequest { cmd, reply })
        .map_err(|_| anyhow!("the control-plane spawner thread is gone"))?;
    let child = response
        .recv()
        .map_err(|_| anyhow!("the control-plane spawner thread did not answer"))??;
    Ok(child)
}

/// A value that is dropped when the process exits normally, unless it was taken out before.
pub(crate) type Slot<T> = Arc<Mutex<Option<T>>>;

trait ShutDown: Send + Sync {
    fn shut_down(&self);
}

impl<T: Send> ShutDown for Mutex<Option<T>> {
    fn shut_down(&self) {
        drop(lock(self).take());
    }
}

static AT_EXIT: Mutex<Vec<Arc<dyn ShutDown>>> = Mutex::new(Vec::new());

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

extern "C" fn shut_down_registered() {
    let slots = std::mem::take(&mut *lock(&AT_EXIT));
    // Newest first: the reverse of the order in which they were started.
    for slot in slots.into_iter().rev() {
        slot.shut_down();
    }
}

/// Puts `value` in a slot whose content is dropped at process exit, see [`release`].
pub(crate) fn drop_at_exit<T: Send + 'static>(value: T) -> Slot<T> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()` that does not unwind.
        let rc = unsafe { libc::atexit(shut_down_registered) };
        if rc != 0 {
            tracing::warn!("atexit registration failed; leftover processes rely on PDEATHSIG");
        }
    });
    let slot = Arc::new(Mutex::new(Some(value)));
    let erased: Arc<dyn ShutDown> = slot.clone();
    lock(&AT_EXIT).push(erased);
    slot
}

/// Drops what `slot` holds now and forgets the slot.
pub(crate) fn release<T: Send + 'static>(slot: &Slot<T>) {
    let target = Arc::as_ptr(slot).cast::<()>();
    lock(&AT_EXIT).retain(|s| !std::ptr::eq(Arc::as_ptr(s).cast::<()>(), target));
    drop(lock(slot).take());
}

/// Whether a process with this PID exists (used to tell abandoned temporary directories apart).
pub(crate) fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
