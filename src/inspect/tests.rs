//! Unit tests of `drover inspect`'s analysis, on literal objects.
