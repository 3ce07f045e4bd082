use crate::runtime::write::WriteError;

/// A failed reconcile. Expected states (waiting for a counterpart, a refusal reported on the
/// object) are not errors: reconcilers report them and return normally.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Error {
    /// Metric label for the failure category.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Write(e) => e.category(),
        }
    }
}
