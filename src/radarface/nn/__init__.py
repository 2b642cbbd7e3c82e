"""radarface.nn"""
