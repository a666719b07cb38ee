"""All layers and the graph helpers, re-exported from their modules."""
from .base import *
from .helper import *
from .input import *
from .dense import *
from .noise import *
from .conv import *
from .local import *
from .pool import *
from .shape import *
from .merge import *
from .normalization import *
from .embedding import *
from .recurrent import *
from .special import *
from .inspect import *
