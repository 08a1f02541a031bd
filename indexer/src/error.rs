//! The crate's single error type.

/// Everything that can go wrong in the index.
///
/// Variants are split in two families so that callers (the HTTP layer in
/// particular) can map them without string matching: bad input that the user
/// can fix ([`IndexError::is_bad_input`] returns `true`) and internal failures
/// (I/O, corruption, bugs) that deserve a 5xx and a log line.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Latitude/longitude out of range or not finite.
    #[error("invalid coordinates: lat {lat}, lon {lon}")]
    InvalidCoordinates {
        /// The rejected latitude, in degrees.
        lat: f64,
        /// The rejected longitude, in degrees.
        lon: f64,
    },
    /// A bounding box that is inverted, crosses the antimeridian or holds
    /// invalid coordinates.
    #[error("invalid bounding box: {0}")]
    InvalidBoundingBox(String),
    /// A search radius outside `1 m ..= 1000 km` or not finite.
    #[error("invalid radius {0} m: must be between 1 m and 1000 km")]
    InvalidRadius(f64),
    /// Search text longer than [`crate::MAX_QUERY_CHARS`] characters.
    #[error("query text too long: {chars} characters, at most {max} allowed")]
    QueryTooLong {
        /// Length of the rejected text, in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// Failure inside tantivy (I/O, corrupt segment, ...).
    #[error("index failure: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The index directory cannot be opened (missing, unreadable).
    #[error("cannot open index directory: {0}")]
    OpenDirectory(#[from] tantivy::directory::error::OpenDirectoryError),
    /// The directory holds an index written with another schema; the caller
    /// should rebuild it.
    #[error("index on disk has an incompatible schema")]
    SchemaMismatch,
    /// The directory holds an index written with other settings (such as the block size of
    /// its stored documents); the caller should rebuild it.
    #[error("index on disk has other settings than this version writes")]
    SettingsMismatch,
    /// Index files fail their checksum; the caller should rebuild.
    #[error("corrupt index: {0}")]
    CorruptIndex(String),
    /// A stored document could not be turned back into an [`crate::OfferDoc`].
    #[error("corrupt stored document: {0}")]
    CorruptDocument(String),
    /// Results built by hand (not by a search) hold no stored documents.
    #[error("these results come from no search: they hold no stored documents")]
    NoSnapshot,
    /// A thread panicked while holding the writer.
    #[error("index writer lock poisoned by a panic")]
    WriterPoisoned,

    /// Background work kept the index from doing what was asked; retrying later may work.
    #[error("index busy: {0}")]
    Busy(String),
}

impl IndexError {
    /// `true` for errors caused by the caller's input (to report as HTTP 400),
    /// `false` for internal failures.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            IndexError::InvalidCoordinates { .. }
                | IndexError::InvalidBoundingBox(_)
                | IndexError::InvalidRadius(_)
                | IndexError::QueryTooLong { .. }
        )
    }
}
