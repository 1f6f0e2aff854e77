package com.stressbeat.core

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/** Calls the real Rust core (libstressbeat_core.so via JNA) through the generated bindings. */
class AnalyzeRecordingTest {
    private val dataDir = File(System.getProperty("stressbeat.data.dir") ?: "../../../shared/data")
    private val record101 = File(dataDir, "mitdb/101.hea")

    private fun requireRecord101() = assumeTrue(
        record101.isFile && File(dataDir, "mitdb/101.dat").isFile,
        "SKIPPED: real data not available at ${record101.path} (set -Dstressbeat.data.dir)",
    )

    @Test
    fun coreVersionIsSet() {
        assertTrue(coreVersion().matches(Regex("""\d+\.\d+\.\d+.*""")), coreVersion())
    }

    /** Facts of MIT-BIH record 101 that hold whatever the analysis pipeline does. */
    @Test
    fun analyzesRealRecording() {
        requireRecord101()
        val s = analyzeRecording(record101.path, null)
        assertEquals("101", s.recordName)
        assertEquals("MLII", s.channelLabel)
        assertEquals(360.0, s.samplingRateHz, 1e-9)
        assertEquals(1805.56, s.durationS, 0.01)
        assertTrue(s.usableFraction in 0.0..1.0, "usableFraction ${s.usableFraction}")
    }

    @Test
    fun optionsSelectChannelAndSpan() {
        requireRecord101()
        val s = analyzeRecording(record101.path, AnalysisOptions(channel = 1u, fromS = 60.0, toS = 120.0))
        assertEquals("V1", s.channelLabel)
        assertEquals(60.0, s.durationS, 1e-6)
    }

    /** The whole pipeline through the binding: MIT-BIH 101 has 1865 annotated beats. */
    @Test
    fun beatsAndHeartRate() {
        requireRecord101()
        val s = analyzeRecording(record101.path, null)
        assertTrue(s.beatCount.toInt() in 1850..1880, "beatCount ${s.beatCount} (expected 1850..1880)")
        val hr = s.meanHrBpm
        assertNotNull(hr, "meanHrBpm is null")
        assertTrue(hr!! in 60.0..80.0, "meanHrBpm $hr")
        assertNotNull(s.hrv)
        assertEquals(hr, s.hrv!!.meanHrBpm, 1e-9)
    }

    /** HRV is of the normal-to-normal intervals: every interval is kept or left out for a reason. */
    @Test
    fun hrvIsOfNormalToNormalIntervals() {
        requireRecord101()
        val h = analyzeRecording(record101.path, null).hrv!!
        assertNotNull(h.leftOut, "leftOut is null: the beats were not typed")
        val leftOut = h.leftOut!!
        assertEquals(1867u, h.nIntervals + leftOut.notNormal + leftOut.artefacts + leftOut.outliers)
        assertTrue(leftOut.notNormal < 50u, "notNormal ${leftOut.notNormal}")
        assertEquals(RrCorrection(0u, 0u, 0u, 0u), h.correction)
    }

    @Test
    fun missingFileIsFileNotFound() {
        val e = assertThrows<StressBeatException.FileNotFound> {
            analyzeRecording("/nonexistent/private-dir/none.hea", null)
        }
        assertTrue(e.message!!.contains("none.hea"), e.message)
        assertFalse(e.message!!.contains("private-dir"), "message leaks the directory: ${e.message}")
    }

    @Test
    fun corruptFileIsCorruptRecording(@TempDir dir: Path) {
        val hea = dir.resolve("bad.hea")
        Files.writeString(hea, "this is not a WFDB header\n\u0000\u0001garbage\n")
        assertThrows<StressBeatException.CorruptRecording> { analyzeRecording(hea.toString(), null) }
    }

    @Test
    fun truncatedSignalIsCorruptRecording(@TempDir dir: Path) {
        // A valid header whose .dat is shorter than the header says.
        Files.writeString(dir.resolve("t1.hea"), "t1 1 360 1000\nt1.dat 212 200 11 1024 0 0 0 MLII\n")
        Files.write(dir.resolve("t1.dat"), ByteArray(30))
        assertThrows<StressBeatException.CorruptRecording> {
            analyzeRecording(dir.resolve("t1.hea").toString(), null)
        }
    }

    @Test
    fun unsupportedExtension(@TempDir dir: Path) {
        val f = dir.resolve("rec.xyz").also { Files.writeString(it, "x") }
        assertThrows<StressBeatException.UnsupportedFormat> { analyzeRecording(f.toString(), null) }
    }

    @Test
    fun invalidOptionsAreInvalidArgument() {
        assertThrows<StressBeatException.InvalidArgument> {
            analyzeRecording("/nonexistent/x.hea", AnalysisOptions(fromS = 10.0, toS = 5.0))
        }
    }

    @Test
    fun allErrorsAreOneSealedType() {
        val e: Exception = assertThrows<StressBeatException> { analyzeRecording("/nonexistent/y.hea", null) }
        assertTrue(e is StressBeatException.FileNotFound)
    }
}
