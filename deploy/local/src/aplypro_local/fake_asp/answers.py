"""The desk's answer to one upload as the §10 answer options deliver it (options.AnswerOptions): records left
unanswered, a line for a record never sent, and the split over two pick-ups. Pure: the server writes."""

from __future__ import annotations

from dataclasses import dataclass

from aplypro_local.fake_asp import returns
from aplypro_local.fake_asp.options import UNKNOWN_PRESTATION_ID, UNKNOWN_RECORD_ID, AnswerOptions
from aplypro_local.fake_asp.pickup import Answer

# A plausible integration line for a record the gateway never sent: 7-digit ids the fake never issues.
STRAY = returns.Integrated(UNKNOWN_RECORD_ID, "1111112", "1111113", "ENPU0000000000000000", UNKNOWN_PRESTATION_ID,
                           "1", None)


@dataclass(frozen=True)
class HeldAnswer:
    """The rest of a split answer: written at the next pick-up (whole if the first half was not taken yet)."""

    upload: str
    whole: Answer
    rest: Answer


def shaped(answer: Answer, options: AnswerOptions) -> Answer:
    integrated = [i for i in answer.integrated if i.record_id not in options.omit_records]
    rejected = [r for r in answer.rejected if r.record_id not in options.omit_records]
    if options.unknown_record:
        integrated.append(STRAY)
    return Answer(integrated, rejected)


def halves(answer: Answer) -> tuple[Answer, Answer]:
    """The first half of each CSV's lines (rounded up), and the rest."""
    cut_i, cut_r = (len(answer.integrated) + 1) // 2, (len(answer.rejected) + 1) // 2
    return (Answer(answer.integrated[:cut_i], answer.rejected[:cut_r]),
            Answer(answer.integrated[cut_i:], answer.rejected[cut_r:]))
