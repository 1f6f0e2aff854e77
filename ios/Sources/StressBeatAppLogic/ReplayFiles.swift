// Recordings picked for a replay: which of the picked files the core opens.
import Foundation

public enum ReplayFiles {
    /// Extensions the core opens, the record's own file first: a WFDB record's `.hea` (its `.dat`
    /// and `.atr` lie beside it), then EDF, CSV, Polar `.bin`, text RR logs.
    public static let preference = ["hea", "edf", "csv", "bin", "txt"]

    /// The file to hand to `MonitorSource.replayFile` among `files` (copies in one folder): the
    /// one whose extension comes first in `preference` (case-insensitive; unknown extensions
    /// last, ties: the first picked); `nil` for none.
    public static func main(of files: [URL]) -> URL? {
        func rank(_ url: URL) -> Int { preference.firstIndex(of: url.pathExtension.lowercased()) ?? preference.count }
        return files.enumerated().min { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }?.element
    }
}
