"""placeholder"""
def project(model, x, layer, unit):
    raise NotImplementedError
