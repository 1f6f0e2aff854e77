//! Export: CSV of windows and RR, EDF+ of raw ECG.
