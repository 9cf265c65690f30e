"""Where a loss stops teaching: gradient profiles, saturation, landscapes, diagnostics.

The plots (``jaxloss.analysis.plots``) need the ``examples`` extra (matplotlib).
"""

from jaxloss.analysis.diagnostics import layer_gradient_norms as layer_gradient_norms
from jaxloss.analysis.diagnostics import plateau_end as plateau_end
from jaxloss.analysis.diagnostics import saturated_fraction as saturated_fraction
from jaxloss.analysis.landscape import Landscape as Landscape
from jaxloss.analysis.landscape import landscape as landscape
from jaxloss.analysis.profiles import Profile as Profile
from jaxloss.analysis.profiles import gradient_profile as gradient_profile
from jaxloss.analysis.profiles import gradient_ratio as gradient_ratio
from jaxloss.analysis.saturation import Interval as Interval
from jaxloss.analysis.saturation import saturation_level as saturation_level
from jaxloss.analysis.saturation import saturation_region as saturation_region

__all__ = [
    "Interval",
    "Landscape",
    "Profile",
    "gradient_profile",
    "gradient_ratio",
    "landscape",
    "layer_gradient_norms",
    "plateau_end",
    "saturated_fraction",
    "saturation_level",
    "saturation_region",
]
