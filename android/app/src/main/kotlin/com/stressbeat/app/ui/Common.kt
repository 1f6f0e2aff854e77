package com.stressbeat.app.ui

import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.compose.foundation.layout.padding
import com.stressbeat.app.logic.UserText

/** The line every screen that shows results carries. */
@Composable
fun Disclaimer() {
    Text(UserText.DISCLAIMER, Modifier.padding(vertical = 8.dp), style = MaterialTheme.typography.bodySmall)
}
