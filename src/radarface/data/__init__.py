"""radarface.data"""
