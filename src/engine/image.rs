//! Container image references: `[registry/]repository[:tag|@digest]`.
//! INTERFACE STUB — to be implemented.

use std::fmt;

use crate::api::{ImageComponent, OverriderOperator};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, without the `@`.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference; the error is a human-readable problem description.
    pub fn parse(_s: &str) -> Result<Self, String> {
        todo!()
    }

    /// Applies one overrider operation to one component; error = problem description.
    pub fn apply(
        &self,
        _component: ImageComponent,
        _operator: OverriderOperator,
        _value: &str,
    ) -> Result<Self, String> {
        todo!()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}
