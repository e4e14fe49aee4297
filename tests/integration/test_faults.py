#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults under load (placeholder, being written)."""
import unittest

if __name__ == "__main__":
    unittest.main()
