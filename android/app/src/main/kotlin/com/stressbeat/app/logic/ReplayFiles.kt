package com.stressbeat.app.logic

/**
 * Replaying picked documents. The core reads recordings by path and chooses the format by the
 * file's extension (`.hea` WFDB, `.edf`, `.csv`/`.tsv`/`.txt`, a Polar capture by its magic or
 * `.bin`), and a WFDB header reads its signal file (`.dat`) from its own directory. So the shell
 * copies every picked document into one fresh cache directory under the name the provider shows
 * (`OpenableColumns.DISPLAY_NAME`, never the URI's last segment such as `msf:1234`), made safe
 * by [cacheNames], then replays the file [choose] picks among them. Pure: no Android types.
 */
object ReplayFiles {
    /** Why nothing can be replayed from what was picked. */
    enum class Problem {
        /** Nothing picked. */
        NOTHING_PICKED,
        /** Only WFDB signal/annotation files: the `.hea` header must be picked too. */
        WFDB_HEADER_MISSING,
        /** A WFDB header without any `.dat`: pick the header and its signal file together. */
        WFDB_DATA_MISSING,
        /** More than one recording: pick one (a WFDB record's `.hea` + `.dat` count as one). */
        SEVERAL_RECORDINGS,
    }

    sealed interface Choice {
        /** Replay the file of this (cache) name. */
        data class Replay(val name: String) : Choice
        data class Refused(val problem: Problem) : Choice
    }

    /** Longest cache file name kept (file systems allow 255 bytes; this leaves room). */
    const val MAX_NAME = 100

    /** WFDB files that belong to a record's `.hea` and are not recordings by themselves. */
    private val WFDB_COMPANIONS = setOf("dat", "atr", "qrs", "ann")

    fun extension(name: String): String =
        name.substringAfterLast('.', "").lowercase()

    /**
     * A display name made into a safe file name in the cache directory: the last path segment
     * only (no `..`, no directories), characters other than `A–Z a–z 0–9 . _ -` replaced by `_`,
     * no leading dot (hidden file) or dash, at most [MAX_NAME] characters with the extension
     * kept; [fallback] when nothing usable is left.
     */
    fun safeName(displayName: String?, fallback: String = "recording"): String {
        val last = displayName.orEmpty().substringAfterLast('/').substringAfterLast('\\').trim()
        var name = last.replace(Regex("[^A-Za-z0-9._-]"), "_").trimStart('.', '-')
        if (name.isEmpty() || name.all { it == '_' || it == '.' }) name = fallback
        if (name.length > MAX_NAME) {
            val ext = extension(name).take(10)
            val stem = name.dropLast(if (ext.isEmpty()) 0 else ext.length + 1)
            name = if (ext.isEmpty()) name.take(MAX_NAME) else stem.take(MAX_NAME - ext.length - 1) + "." + ext
        }
        return name
    }

    /**
     * Safe, distinct cache names for the picked documents' display names, in the same order
     * (`null`: the provider gave none). A name taken already gets `-2`, `-3`, … before its
     * extension (two documents called `ecg.csv` do not overwrite each other).
     */
    fun cacheNames(displayNames: List<String?>): List<String> {
        val used = mutableSetOf<String>()
        return displayNames.mapIndexed { i, d ->
            val base = safeName(d, fallback = "recording-${i + 1}")
            var name = base
            var n = 2
            while (!used.add(name.lowercase())) {
                val ext = if ('.' in base) base.substringAfterLast('.') else ""
                name = if (ext.isEmpty()) "$base-$n" else base.dropLast(ext.length + 1) + "-$n." + ext
                n++
            }
            name
        }
    }

    /**
     * Which of the picked files to replay: the one recording among them (a `.hea` with a `.dat`
     * beside it, an `.edf`, a `.csv`/`.tsv`/`.txt`, a capture, or a file of another name, which
     * the core may still recognise as a capture by its content).
     */
    fun choose(names: List<String>): Choice {
        if (names.isEmpty()) return Choice.Refused(Problem.NOTHING_PICKED)
        val recordings = names.filter { extension(it) !in WFDB_COMPANIONS }
        val dats = names.filter { extension(it) == "dat" }
        return when {
            recordings.isEmpty() -> Choice.Refused(Problem.WFDB_HEADER_MISSING)
            recordings.size > 1 -> Choice.Refused(Problem.SEVERAL_RECORDINGS)
            extension(recordings[0]) == "hea" && dats.isEmpty() -> Choice.Refused(Problem.WFDB_DATA_MISSING)
            else -> Choice.Replay(recordings[0])
        }
    }
}
