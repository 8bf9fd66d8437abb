"""Question sets: our JSONL format and converters of NarrativeQA, InfiniteBench, DetectiveQA
and NovelQA.
"""

from comorag.data.convert import FORMATS, convert
from comorag.data.questions import load_questions

__all__ = ["FORMATS", "convert", "load_questions"]
