"""The few ways talking to a device fails, as the device manager decides on them."""

from __future__ import annotations


class DeviceError(Exception):
    """A device could not be used; ``kind`` is what the status KV and logs say."""

    kind = "error"
    #: Whether to retry soon (False: back off long, the operator must act).
    transient = True


class Unreachable(DeviceError):
    kind = "unreachable"


class WrongCredentials(DeviceError):
    kind = "wrong_credentials"
    transient = False


class DeviceBusy(DeviceError):
    kind = "busy"


class OtherDeviceError(DeviceError):
    kind = "error"


class WrongDevice(DeviceError):
    """Another device answers at the address (its MAC differs): discovery must find it."""

    kind = "wrong_device"
