"""radarface.facemodel"""
