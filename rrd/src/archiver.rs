pub struct Archiver;
pub struct SyncReport;
