"""radarface.train"""
