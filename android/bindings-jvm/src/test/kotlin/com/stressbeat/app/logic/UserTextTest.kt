package com.stressbeat.app.logic

import com.stressbeat.core.AlertKind
import com.stressbeat.core.ExportFormat
import com.stressbeat.core.SessionEndReason
import com.stressbeat.core.StressBeatException
import com.stressbeat.core.StressMonitor
import com.stressbeat.core.StressMonitorConfig
import java.io.File
import java.nio.file.Files
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class UserTextTest {
    private val secret = "/data/user/0/com.stressbeat/files/alice-history.db: 71 bpm"

    private fun all(): List<StressBeatException> = listOf(
        StressBeatException.FileNotFound(secret), StressBeatException.CannotReadFile(secret),
        StressBeatException.UnsupportedFormat(secret), StressBeatException.CorruptRecording(secret),
        StressBeatException.InvalidArgument(secret), StressBeatException.NotEnoughSignal(secret),
        StressBeatException.Storage(secret), StressBeatException.HistoryFromNewerApp(secret),
        StressBeatException.HistoryDamaged(secret), StressBeatException.Model(secret),
        StressBeatException.InvalidState(secret), StressBeatException.Unsupported(secret),
        StressBeatException.Internal(secret),
    )

    @Test
    fun everyCoreErrorHasItsOwnTextAndActionWithoutTheRawMessage() {
        val errors = all()
        // every subclass the bindings declare is covered (a new core error fails this test)
        val declared = StressBeatException::class.java.declaredClasses.filter { StressBeatException::class.java.isAssignableFrom(it) }
        assertEquals(declared.toSet(), errors.map { it.javaClass }.toSet())
        val msgs = errors.map(UserText::error)
        assertEquals(msgs.size, msgs.map { it.body }.toSet().size, "distinct texts")
        assertTrue(msgs.all { it.title.length in 3..40 && it.body.length in 10..160 })
        assertTrue(msgs.none { "alice" in it.body || "71" in it.body || "/data" in it.body })
        val newer = UserText.error(StressBeatException.HistoryFromNewerApp(secret))
        assertEquals(UserAction.UPDATE_APP, newer.action)
        assertTrue("update the app" in newer.body.lowercase() && "history is kept" in newer.body)
        assertEquals(UserAction.START_NEW_HISTORY, UserText.error(StressBeatException.HistoryDamaged(secret)).action)
        assertEquals(UserAction.CHECK_STRAP, UserText.error(StressBeatException.NotEnoughSignal(secret)).action)
        // logs carry the kind only
        assertEquals("StressBeatException.Storage", LogSafe.error(StressBeatException.Storage(secret)))
    }

    /** A real core error, mapped: a history whose folder does not exist. */
    @Test
    fun aRealStorageErrorIsMapped() {
        val dir = Files.createTempDirectory("stressbeat-text").toFile()
        val e = assertThrows<StressBeatException> {
            StressMonitor(StressMonitorConfig(File(dir, "missing/h.db").path))
        }
        assertTrue(e is StressBeatException.Storage || e is StressBeatException.FileNotFound ||
            e is StressBeatException.CannotReadFile, "${e::class.simpleName}")
        assertTrue(UserText.error(e).action in setOf(UserAction.FREE_SPACE, UserAction.RETRY, UserAction.PICK_FILE_AGAIN))
        dir.deleteRecursively()
    }

    @Test
    fun levelsReasonsAlertsAndTheDisclaimer() {
        assertEquals(listOf("Calm", "Elevated", "High"), Level.entries.map(UserText::level))
        // every reason its own text, and one for a reason a newer version wrote (null)
        val reasons = SessionEndReason.entries + null
        assertEquals(reasons.size, reasons.map(UserText::endReason).toSet().size)
        // a stored session: its end once it has one, whether its reason is known or not
        val running = SessionItem(1, 0, null, null, "simulator", 0, 0)
        assertEquals(null, UserText.sessionEnd(running))
        assertEquals(UserText.endReason(null), UserText.sessionEnd(running.copy(endedAtMs = 5)))
        assertEquals(UserText.endReason(SessionEndReason.INTERRUPTED),
            UserText.sessionEnd(running.copy(endedAtMs = 5, endReason = SessionEndReason.INTERRUPTED)))
        assertEquals(AlertKind.entries.size, AlertKind.entries.map(UserText::alertTitle).toSet().size)
        assertEquals(Notice.entries.size, Notice.entries.map(UserText::notice).toSet().size)
        assertTrue("not a medical device" in UserText.DISCLAIMER.lowercase())
        assertTrue("not a medical device" in UserText.DISCLAIMER_SHORT.lowercase())
        val s = Stress(null, Level.HIGH, 0.2f, "poor signal", false, false, 0)
        assertEquals("High (no score now: poor signal)", UserText.stress(s))
        assertEquals("Elevated · 61/100", UserText.stress(s.copy(score = 61, level = Level.ELEVATED)))
        assertFalse(UserText.calibration(Calibration.Failed(3, 12, 9, 0))!!.contains("irregular"))
        assertTrue(UserText.calibration(Calibration.Failed(3, 12, 0, 9))!!.contains("irregular"))
    }

    /** The shell's texts (screens, service, notifications) come from here, built from the shared constants. */
    @Test
    fun shellTextsFollowTheirConstants() {
        assertEquals("Calibrate (3 min, sit calmly)", UserText.calibrateButton())
        assertTrue("${Calibration.DURATION_S / 60} min" in UserText.calibrateButton())
        assertEquals("Calibrate (90 s, sit calmly)", UserText.calibrateButton(90))
        assertTrue("30 days" in UserText.noAlerts(30))
        assertEquals(3, UserText.TABS.size)
        assertEquals(ExportFormat.entries.size, ExportFormat.entries.map(UserText::exportButton).toSet().size)
        assertEquals("Strap battery 40 %", UserText.strapBattery(40))
        val item = SessionItem(7, 0, null, null, "simulator", 12, 1)
        assertEquals("1/2/25 · simulator · 12 windows · 1 alerts", UserText.sessionLine("1/2/25", item))
        assertEquals("Exported (12 rows).", UserText.exported(12))
        val lost = Alert(1, 0, AlertKind.STRAP_DISCONNECTED, true, "The strap has been gone for 20 s.")
        assertEquals("Strap disconnected: The strap has been gone for 20 s.", UserText.alertLine(lost))
        assertEquals(UserMessage("Strap disconnected", lost.reason, UserAction.NONE), UserText.alertNotification(lost))
        // the live notification: values in the private version only, the disclaimer with them
        val s = LiveState(heartRate = HeartRate(71, HeartRateSource.ECG, 1_000, true), connection = Connection.Streaming)
        assertEquals("71 bpm · Waiting for the first 30 s of data", UserText.liveTitle(s, 2_000))
        assertEquals("Connected · Not a medical device.", UserText.liveText(s))
        assertFalse(UserText.LOCK_SCREEN_MONITORING.any(Char::isDigit))
        assertFalse(UserText.LOCK_SCREEN_ALERT_TEXT.any(Char::isDigit))
        // service refusals: a strap's names the permission, the others say to start again
        assertTrue("Nearby devices" in UserText.notStarted(bluetooth = true).body)
        assertFalse("Nearby devices" in UserText.notStarted(bluetooth = false).body)
        assertEquals(UserText.BLUETOOTH_PERMISSION_NEEDED, UserText.BLUETOOTH_PERMISSION_PROBLEM.body)
        val native = UserText.NATIVE_LIBRARY_MISSING
        assertTrue(native.title.length in 3..40 && native.body.length in 10..160, native.body)
        assertTrue(listOf(UserText.BLUETOOTH_OFF, UserText.CALIBRATION_REQUESTED, UserText.OPENING_HISTORY,
            UserText.UNNAMED_STRAP).all { it.isNotBlank() })
    }
}
