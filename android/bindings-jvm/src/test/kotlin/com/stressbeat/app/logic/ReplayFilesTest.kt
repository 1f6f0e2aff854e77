package com.stressbeat.app.logic

import com.stressbeat.app.logic.ReplayFiles.Choice
import com.stressbeat.app.logic.ReplayFiles.Problem
import com.stressbeat.core.AnalysisOptions
import com.stressbeat.core.StressBeatException
import com.stressbeat.core.analyzeRecording
import java.io.File
import java.nio.file.Files
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Picked documents → cache file names → the file the core replays. */
class ReplayFilesTest {
    @Test
    fun displayNamesBecomeSafeFileNamesWithTheirExtension() {
        assertEquals("101.hea", ReplayFiles.safeName("101.hea"))
        assertEquals("my_ECG__1_.csv", ReplayFiles.safeName("my ECG (1).csv"))
        assertEquals("passwd", ReplayFiles.safeName("../../etc/passwd"), "no directories")
        assertEquals("x.edf", ReplayFiles.safeName("C:\\Users\\a\\x.edf"))
        assertEquals("hidden.csv", ReplayFiles.safeName(".hidden.csv"), "no hidden files")
        assertEquals("recording", ReplayFiles.safeName(null))
        assertEquals("recording", ReplayFiles.safeName("  "))
        assertEquals("recording", ReplayFiles.safeName(".."))
        assertEquals("_____.csv", ReplayFiles.safeName("Пульс.csv"), "non-ASCII replaced, extension kept")
        val long = ReplayFiles.safeName("a".repeat(300) + ".csv")
        assertEquals(ReplayFiles.MAX_NAME, long.length)
        assertTrue(long.endsWith(".csv"))
    }

    @Test
    fun cacheNamesAreDistinctAndKeepTheOrder() {
        assertEquals(listOf("101.hea", "101.dat", "101.atr"), ReplayFiles.cacheNames(listOf("101.hea", "101.dat", "101.atr")))
        assertEquals(listOf("ecg.csv", "ecg-2.csv", "ECG-3.CSV", "recording-4"),
            ReplayFiles.cacheNames(listOf("ecg.csv", "ecg.csv", "ECG.CSV", null)))
    }

    @Test
    fun theOneRecordingAmongThePickedFilesIsChosen() {
        assertEquals(Choice.Replay("101.hea"), ReplayFiles.choose(listOf("101.dat", "101.hea", "101.atr")))
        assertEquals(Choice.Replay("s.EDF"), ReplayFiles.choose(listOf("s.EDF")))
        assertEquals(Choice.Replay("rr.csv"), ReplayFiles.choose(listOf("rr.csv")))
        assertEquals(Choice.Replay("capture.bin"), ReplayFiles.choose(listOf("capture.bin")))
        assertEquals(Choice.Replay("recording-1"), ReplayFiles.choose(listOf("recording-1")), "the core may know it by content")
        assertEquals(Choice.Refused(Problem.NOTHING_PICKED), ReplayFiles.choose(emptyList()))
        assertEquals(Choice.Refused(Problem.WFDB_HEADER_MISSING), ReplayFiles.choose(listOf("101.dat")))
        assertEquals(Choice.Refused(Problem.WFDB_DATA_MISSING), ReplayFiles.choose(listOf("101.hea")))
        assertEquals(Choice.Refused(Problem.SEVERAL_RECORDINGS), ReplayFiles.choose(listOf("a.csv", "b.edf")))
        Problem.values().forEach { assertTrue(UserText.replayProblem(it).length in 10..120) }
    }

    /**
     * What the shell does with a WFDB pick, against the real core: the names a provider shows,
     * copied into one directory, the chosen `.hea` read with its `.dat` beside it. A provider's
     * URI segment (`msf:1234`, no extension) is what the core refuses.
     */
    @Test
    fun aPickedWfdbRecordCopiedUnderItsDisplayNamesIsReadable() {
        val src = File(H10.dataDir, "mitdb")
        assumeTrue(File(src, "101.hea").isFile, "SKIPPED: MIT-BIH 101 not available at ${src.path}")
        val picked = listOf("101.dat", "101.hea") // any order, as a picker returns them
        val dir = Files.createTempDirectory("stressbeat-replay").toFile()
        try {
            val names = ReplayFiles.cacheNames(picked)
            picked.zip(names).forEach { (from, to) -> File(src, from).copyTo(File(dir, to)) }
            val chosen = ReplayFiles.choose(names)
            assertEquals(Choice.Replay("101.hea"), chosen)
            val summary = analyzeRecording(File(dir, (chosen as Choice.Replay).name).path,
                AnalysisOptions(channel = 0u, fromS = 0.0, toS = 60.0))
            assertTrue(summary.beatCount > 50u, "${summary.beatCount} beats")

            File(src, "101.hea").copyTo(File(dir, "msf:1234"))
            assertThrows<StressBeatException.UnsupportedFormat> { analyzeRecording(File(dir, "msf:1234").path, null) }
        } finally {
            dir.deleteRecursively()
        }
    }
}
