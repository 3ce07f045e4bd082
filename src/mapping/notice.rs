//! What drover tells users about an object, published as a Kubernetes Event
//! ([`crate::runtime::events`]): where users look, unlike logs.

/// One thing to tell, in words a user reads in `kubectl describe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// A Warning Event: something needs the user. Otherwise a Normal one.
    pub warning: bool,
    /// PascalCase, one of [`crate::consts::reasons`].
    pub reason: String,
    /// PascalCase, one of [`crate::consts::actions`].
    pub action: &'static str,
    pub message: String,
}

impl Notice {
    pub fn normal(reason: &str, action: &'static str, message: impl Into<String>) -> Self {
        Self {
            warning: false,
            reason: reason.into(),
            action,
            message: message.into(),
        }
    }

    pub fn warning(reason: &str, action: &'static str, message: impl Into<String>) -> Self {
        Self {
            warning: true,
            ..Self::normal(reason, action, message)
        }
    }
}
