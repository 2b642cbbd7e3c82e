"""radarface.fit"""
