"""The benchmark's target model: one table of ten fields of mixed types."""
