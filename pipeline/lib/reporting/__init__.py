"""What the analyst and the marketer read: segment movement, score distributions, the daily
report. Reads the warehouse; writes only files under the artefacts folder."""
