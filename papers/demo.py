"""Demo data for this app, loaded by `manage.py load_demo`.

The real sample bibliographies in ../shared/data go through the normal importers (so the demo
shows real dedupe reports), then well-known ML papers are added with notes, reading states and
two research questions, linked to the radar techniques the radar demo created.
"""

import datetime

from django.conf import settings

from radar.models import Technique

from .importers import import_text
from .importers.base import PaperRecord, save_record
from .models import Paper, PaperPdf, ReadingState, ResearchQuestion
from .pdf_builder import text_pdf

SAMPLE_PATTERNS = ("*.bib", "*.csl.json", "*.atom.xml")

# (arXiv id, title, authors, year, venue, technique name fragment, tags, abstract)
ML_PAPERS = [
    ("2205.14135", "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
     ["Tri Dao", "Daniel Y. Fu", "Stefano Ermon", "Atri Rudra", "Christopher Ré"], 2022,
     "NeurIPS", "Flash Attention", ["attention", "kernels"],
     "Transformers are slow and memory-hungry on long sequences, since the time and memory "
     "complexity of self-attention are quadratic in sequence length. We argue that a missing "
     "principle is making attention algorithms IO-aware, accounting for reads and writes between "
     "levels of GPU memory. FlashAttention uses tiling to reduce the number of memory reads and "
     "writes between GPU high bandwidth memory and on-chip SRAM, computing exact attention with "
     "fewer HBM accesses. It trains BERT-large 15% faster end to end and GPT-2 3x faster."),
    ("2407.08608", "FlashAttention-3: Fast and Accurate Attention with Asynchrony and "
     "Low-precision", ["Jay Shah", "Ganesh Bikshandi", "Ying Zhang", "Vijay Thakkar",
                       "Pradeep Ramani", "Tri Dao"], 2024, "", "Flash Attention 3",
     ["attention", "kernels", "fp8"],
     "FlashAttention-3 exploits asynchrony of the Tensor Cores and TMA on Hopper GPUs through "
     "warp specialisation, interleaves block-wise matmul and softmax, and uses block quantisation "
     "and incoherent processing for FP8. It reaches 1.5-2.0x speedup over FlashAttention-2 on H100 "
     "with FP16 up to 740 TFLOPs/s, and close to 1.2 PFLOPs/s with FP8 at lower numerical error "
     "than a baseline FP8 attention."),
    ("2106.09685", "LoRA: Low-Rank Adaptation of Large Language Models",
     ["Edward J. Hu", "Yelong Shen", "Phillip Wallis", "Zeyuan Allen-Zhu", "Yuanzhi Li",
      "Shean Wang", "Lu Wang", "Weizhu Chen"], 2021, "ICLR 2022", "LoRA", ["fine-tuning", "peft"],
     "We propose Low-Rank Adaptation, which freezes the pre-trained model weights and injects "
     "trainable rank decomposition matrices into each layer of the Transformer, greatly reducing "
     "the number of trainable parameters for downstream tasks. Compared to GPT-3 175B fine-tuned "
     "with Adam, LoRA reduces trainable parameters 10,000 times and GPU memory 3 times, performs "
     "on par or better in model quality, and adds no inference latency."),
    ("2305.14314", "QLoRA: Efficient Finetuning of Quantized LLMs",
     ["Tim Dettmers", "Artidoro Pagnoni", "Ari Holtzman", "Luke Zettlemoyer"], 2023,
     "NeurIPS", "QLoRA", ["fine-tuning", "peft", "quantization"],
     "QLoRA backpropagates gradients through a frozen, 4-bit quantised pretrained model into "
     "low-rank adapters, enough to finetune a 65B model on a single 48GB GPU while preserving "
     "16-bit finetuning task performance. It introduces 4-bit NormalFloat, double quantisation and "
     "paged optimisers. Guanaco reaches 99.3% of ChatGPT's performance on the Vicuna benchmark."),
    ("2211.17192", "Fast Inference from Transformers via Speculative Decoding",
     ["Yaniv Leviathan", "Matan Kalman", "Yossi Matias"], 2023, "ICML", "Speculative decoding",
     ["inference", "decoding"],
     "Inference from large autoregressive models is slow: decoding K tokens takes K serial runs. "
     "Speculative decoding computes several tokens in parallel by running a small approximation "
     "model and verifying its proposals with the large model, without changing the output "
     "distribution. It accelerates T5-XXL 2x-3x compared to standard implementations, with "
     "identical outputs and no retraining or architecture changes."),
    ("2309.06180", "Efficient Memory Management for Large Language Model Serving with "
     "PagedAttention", ["Woosuk Kwon", "Zhuohan Li", "Siyuan Zhuang", "Ying Sheng",
                        "Lianmin Zheng", "Cody Hao Yu", "Joseph E. Gonzalez", "Hao Zhang",
                        "Ion Stoica"], 2023, "SOSP", "PagedAttention", ["inference", "serving"],
     "High-throughput serving of LLMs requires batching many requests, but the KV cache of each "
     "request is huge and grows and shrinks dynamically; wasted memory limits the batch size. "
     "PagedAttention, inspired by virtual memory and paging, stores the KV cache in non-contiguous "
     "blocks. vLLM built on it achieves near-zero KV cache waste and flexible sharing, improving "
     "throughput 2-4x over FasterTransformer and Orca at the same latency."),
    ("2101.03961", "Switch Transformers: Scaling to Trillion Parameter Models with Simple and "
     "Efficient Sparsity", ["William Fedus", "Barret Zoph", "Noam Shazeer"], 2022, "JMLR",
     "MoE routing", ["mixture-of-experts", "scaling"],
     "Mixture of Experts models select different parameters for each input, giving sparsely "
     "activated models with huge parameter counts at constant compute, but complexity, "
     "communication cost and training instability have hindered adoption. The Switch Transformer "
     "simplifies MoE routing to a single expert per token, trains large sparse models in bfloat16 "
     "for the first time, and gets up to 7x pre-training speedups over T5 at the same compute."),
    ("2305.18290", "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
     ["Rafael Rafailov", "Archit Sharma", "Eric Mitchell", "Stefano Ermon",
      "Christopher D. Manning", "Chelsea Finn"], 2023, "NeurIPS", "Direct preference",
     ["alignment", "rlhf"],
     "RLHF fits a reward model to human preferences and then fine-tunes the language model with "
     "reinforcement learning, a complex and often unstable procedure. DPO reparameterises the "
     "reward model so the optimal policy comes in closed form, solving the RLHF problem with a "
     "simple classification loss. DPO is stable, lightweight, needs no sampling during "
     "fine-tuning, and matches or exceeds PPO-based RLHF on sentiment control, summarisation "
     "and dialogue."),
    ("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
     ["Albert Gu", "Tri Dao"], 2023, "", "Mamba", ["architecture", "state-space"],
     "Foundation models are almost all based on the Transformer and its attention. Subquadratic "
     "architectures such as linear attention and structured state space models have not matched "
     "attention on language. Mamba lets SSM parameters be functions of the input, so the model can "
     "selectively propagate or forget information, and uses a hardware-aware parallel algorithm in "
     "recurrent mode. It has 5x higher inference throughput than Transformers and linear scaling "
     "in sequence length; Mamba-3B matches Transformers twice its size."),
    ("2305.13245", "GQA: Training Generalized Multi-Query Transformer Models from Multi-Head "
     "Checkpoints", ["Joshua Ainslie", "James Lee-Thorp", "Michiel de Jong", "Yury Zemlyanskiy",
                     "Federico Lebrón", "Sumit Sanghai"], 2023, "EMNLP", "Grouped-query",
     ["attention", "inference"],
     "Multi-query attention uses a single key-value head and drastically speeds up decoder "
     "inference, but can degrade quality. We uptrain existing multi-head checkpoints into "
     "multi-query models with 5% of the original pre-training compute, and introduce "
     "grouped-query attention, an interpolation with an intermediate number of key-value heads. "
     "Uptrained GQA reaches quality close to multi-head attention at speed comparable to MQA."),
    ("2309.00071", "YaRN: Efficient Context Window Extension of Large Language Models",
     ["Bowen Peng", "Jeffrey Quesnelle", "Honglu Fan", "Enrico Shippole"], 2023, "ICLR 2024",
     "RoPE scaling", ["long-context"],
     "Rotary position embeddings encode position in transformer language models but fail to "
     "generalise past the sequence length they were trained on. YaRN is a compute-efficient method "
     "to extend the context window of such models, needing 10x fewer tokens and 2.5x fewer "
     "training steps than previous methods. LLaMA models extend to 128k context with it."),
    ("2310.01889", "Ring Attention with Blockwise Transformers for Near-Infinite Context",
     ["Hao Liu", "Matei Zaharia", "Pieter Abbeel"], 2023, "ICLR 2024", "Ring attention",
     ["long-context", "attention"],
     "The memory demands of Transformers limit their ability to handle long sequences. Ring "
     "Attention uses blockwise computation of self-attention and feedforward to distribute long "
     "sequences across devices while overlapping the communication of key-value blocks with "
     "blockwise attention, allowing sequences up to device count times longer than prior "
     "memory-efficient Transformers without approximations or extra overheads."),
    ("2203.02155", "Training language models to follow instructions with human feedback",
     ["Long Ouyang", "Jeff Wu", "Xu Jiang", "Diogo Almeida", "Carroll L. Wainwright",
      "Pamela Mishkin", "Chong Zhang", "Sandhini Agarwal", "Paul Christiano", "Jan Leike",
      "Ryan Lowe"], 2022, "NeurIPS", "RLHF", ["alignment", "rlhf"],
     "Making language models bigger does not make them better at following a user's intent. We "
     "fine-tune GPT-3 with supervised demonstrations and then with reinforcement learning from "
     "human feedback on rankings of model outputs. Labelers prefer outputs of the 1.3B InstructGPT "
     "model to those of the 175B GPT-3, with improved truthfulness and less toxic output and "
     "minimal regressions on public NLP datasets."),
    ("2209.05433", "FP8 Formats for Deep Learning",
     ["Paulius Micikevicius", "Dusan Stosic", "Neil Burgess", "Marius Cornea", "Pradeep Dubey",
      "Richard Grisenthwaite", "Sangwon Ha", "Alexander Heinecke", "Patrick Judd", "John Kamalu",
      "Naveen Mellempudi", "Stuart Oberman", "Mohammad Shoeybi", "Michael Siu", "Hao Wu"], 2022,
     "", "FP8 training", ["fp8", "training"],
     "FP8 is a natural progression for accelerating deep learning training and inference beyond "
     "16-bit formats. We propose an 8-bit floating point binary interchange format with two "
     "encodings, E4M3 and E5M2, and show it matches 16-bit training quality across CNNs, RNNs and "
     "Transformers up to 175B parameters without changing hyperparameters."),
    ("1503.02531", "Distilling the Knowledge in a Neural Network",
     ["Geoffrey Hinton", "Oriol Vinyals", "Jeff Dean"], 2015, "NIPS Deep Learning Workshop",
     "Knowledge distillation", ["distillation", "compression"],
     "Ensembles improve almost any machine learning algorithm but are too expensive to deploy. "
     "The knowledge in an ensemble can be compressed into a single model by training it on the "
     "ensemble's soft targets at a raised softmax temperature. We obtain surprising results on "
     "MNIST and significantly improve the acoustic model of a heavily used commercial system."),
    ("2306.05685", "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena",
     ["Lianmin Zheng", "Wei-Lin Chiang", "Ying Sheng", "Siyuan Zhuang", "Zhanghao Wu",
      "Yonghao Zhuang", "Zi Lin", "Zhuohan Li", "Dacheng Li", "Eric P. Xing", "Hao Zhang",
      "Joseph E. Gonzalez", "Ion Stoica"], 2023, "NeurIPS Datasets and Benchmarks",
     "LLM-as-a-judge", ["evaluation"],
     "Evaluating chat assistants is hard because of their broad capabilities and the inadequacy "
     "of existing benchmarks. We use strong LLMs as judges on open-ended questions, examine "
     "position, verbosity and self-enhancement biases, and introduce MT-Bench and Chatbot Arena. "
     "GPT-4 as a judge agrees with human preferences over 80% of the time, as often as humans "
     "agree with each other."),
    ("2402.02750", "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache",
     ["Zirui Liu", "Jiayi Yuan", "Hongye Jin", "Shaochen Zhong", "Zhaozhuo Xu",
      "Vladimir Braverman", "Beidi Chen", "Xia Hu"], 2024, "ICML", "KV-cache quantization",
     ["inference", "quantization"],
     "Serving LLMs needs a large KV cache that dominates memory at long contexts and large "
     "batches. Studying the element distribution of the KV cache, we find the key cache should be "
     "quantised per channel and the value cache per token. KIVI is a tuning-free 2-bit KV cache "
     "quantisation that keeps almost the same quality while using 2.6x less peak memory and "
     "enabling up to 4x larger batches, for 2.35x-3.47x throughput."),
]  # fmt: skip

NOTES = [
    # (reader, arXiv id, fields)
    ("bob", "2205.14135", {
        "relevance": 5, "pass_reached": 3, "time_spent_minutes": 180,
        "summary": "Exact attention, tiled so it stays in SRAM: fewer HBM reads, same result.",
        "key_insight": "Attention is **memory-bound**, not compute-bound; recomputing in the "
                       "backward pass is cheaper than storing the attention matrix.",
        "results": "- GPT-2: 3x faster training\n- BERT-large: 15% faster end to end",
        "limitations": "Needs a CUDA kernel per GPU architecture.",
        "production_viability": "likely_viable",
        "implementation": "Drop-in through PyTorch SDPA; check our custom masks are supported.",
        "computational_efficiency": 5, "integration_complexity": 5, "robustness": 5,
        "maintainability": 4,
    }),
    ("dana", "2205.14135", {
        "relevance": 4, "pass_reached": 2, "time_spent_minutes": 50,
        "summary": "IO-aware exact attention kernel.",
        "production_viability": "likely_viable",
        "flag_weak_baselines": True,
        "flag_weak_baselines_comment": "Some speedups are against unfused PyTorch attention.",
        "computational_efficiency": 5, "integration_complexity": 4,
    }),
    ("bob", "2211.17192", {
        "relevance": 4, "pass_reached": 2, "time_spent_minutes": 60,
        "summary": "A small draft model proposes tokens that the big model verifies in parallel.",
        "key_insight": "Rejection sampling keeps the output distribution exactly the same.",
        "results": "2-3x on T5-XXL; speedup depends on draft acceptance rate.",
        "limitations": "Gains shrink at large batch sizes, where decoding is compute-bound.",
        "production_viability": "needs_validation",
        "implementation": "Needs a draft model sharing the tokenizer; measure acceptance on our "
                          "traffic first.",
        "flag_toy_datasets": False,
        "flag_compute_advantage": True,
        "flag_compute_advantage_comment": "Reported at batch size 1 only.",
        "computational_efficiency": 4, "integration_complexity": 3, "robustness": 4,
        "maintainability": 3,
    }),
    ("dana", "2312.00752", {
        "relevance": 3, "pass_reached": 1, "time_spent_minutes": 10,
        "summary": "Selective state-space layers as a linear-time alternative to attention.",
        "production_viability": "probably_not",
        "flag_reproducibility": True,
        "flag_reproducibility_comment": "Custom scan kernel; results at 3B scale only.",
        "flag_new_metrics": False,
    }),
    ("dana", "2305.18290", {
        "relevance": 5, "pass_reached": 2, "time_spent_minutes": 45,
        "summary": "Preference tuning as a classification loss, no reward model or PPO.",
        "production_viability": "likely_viable",
        "flag_missing_ablations": True,
        "flag_missing_ablations_comment": "Little on the beta hyperparameter's sensitivity.",
        "integration_complexity": 4, "robustness": 3,
    }),
]  # fmt: skip

READING = [
    ("bob", "2205.14135", "pass_3", ""),
    ("bob", "2211.17192", "pass_2", ""),
    ("bob", "2309.06180", "to_read", ""),
    ("bob", "2305.13245", "to_read", ""),
    ("bob", "2101.03961", "dropped", "We do not train MoE models this year."),
    ("dana", "2312.00752", "pass_1", ""),
    ("dana", "2305.18290", "pass_2", ""),
]

QUESTIONS = [
    {
        "question": "Does speculative decoding pay off at our serving batch sizes?",
        "status": "partly_answered",
        "author": "alice",
        "what_would_resolve": "Latency and acceptance rate of a draft model on a replay of "
        "one day of our traffic, at batch 8 and 16.",
        "conclusion": "Helps at **batch 1-4** (2x); at batch 32 the gain disappears. "
        "Validate with EXP on our traffic before adopting.",
        "links": [
            (
                "2211.17192",
                "supports",
                "accelerates T5-XXL 2x-3x ... with identical outputs",
                "The speed-up is measured at small batches, where our traffic mostly is.",
            ),
            (
                "2309.06180",
                "context",
                "throughput depends on batch size and KV-cache memory",
                "Explains why a large batch leaves no idle compute for the draft model.",
            ),
        ],
    },
    {
        "question": "Can we fine-tune 70B models on one node without losing quality?",
        "status": "open",
        "author": "bob",
        "what_would_resolve": "A QLoRA run at 70B on one 8-GPU node, scored on our eval "
        "set against the full fine-tune.",
        "conclusion": "",
        "links": [
            (
                "2305.14314",
                "supports",
                "preserving 16-bit finetuning task performance",
                "QLoRA fits a 65B model on one 48 GB GPU at 16-bit quality.",
            ),
            (
                "2106.09685",
                "context",
                "reduces trainable parameters 10,000 times",
                "The adapter method QLoRA builds on.",
            ),
        ],
    },
]


def _say(stdout, message):
    if stdout is not None:
        stdout.write(message)


def _import_samples(stdout):
    data_dir = settings.BASE_DIR.parent / "shared" / "data"
    files = sorted(p for pattern in SAMPLE_PATTERNS for p in data_dir.glob(pattern))
    if not files:
        _say(stdout, f"Papers: no sample bibliographies in {data_dir}; skipped those.")
        return
    for path in files:
        report = import_text(path.read_text(encoding="utf-8"))
        _say(stdout, f"Papers: {path.name}: {report.summary_line()}")


def _add_ml_papers():
    papers = {}
    for arxiv_id, title, authors, year, venue, technique, tags, abstract in ML_PAPERS:
        record = PaperRecord(
            line=None,
            label=arxiv_id,
            title=title,
            authors=authors,
            year=year,
            venue=venue,
            abstract=abstract,
            arxiv_id=arxiv_id,
            url=f"https://arxiv.org/abs/{arxiv_id}",
            entry_type=Paper.EntryType.INPROCEEDINGS if venue else Paper.EntryType.PREPRINT,
            tags=tags,
        )
        outcome = save_record(record)
        paper = Paper.objects.get(pk=outcome.paper_id)
        # An exact name first, so "LoRA" does not also pick up "QLoRA".
        exact = Technique.objects.filter(name__iexact=technique)
        paper.techniques.add(*(exact or Technique.objects.filter(name__icontains=technique)))
        papers[arxiv_id] = paper
    return papers


def _attach_demo_pdf(paper, by):
    """A small generated PDF (the abstract and a page about it), read by the worker as any other."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    pages = [
        f"{paper.title}\n\n{paper.authors_display}\n\nAbstract\n\n{paper.abstract}",
        "Demo note\n\nThis two-page PDF was generated by load_demo so that the paper page shows "
        "a PDF, its extraction status and its passages. Each passage links to its page of the "
        "PDF. Upload the real paper to replace it, or fetch it from arXiv by its id.",
    ]
    upload = SimpleUploadedFile("demo.pdf", text_pdf(pages), content_type="application/pdf")
    PaperPdf.attach_upload(paper=paper, upload=upload, by=by)


def load(users, stdout=None):
    """Create this app's demo rows. `users` maps demo usernames to User objects."""
    _import_samples(stdout)
    papers = _add_ml_papers()
    today = datetime.date.today()
    for days_ago, (reader, arxiv_id, fields) in enumerate(NOTES):
        if reader in users:
            papers[arxiv_id].notes.update_or_create(
                author=users[reader],
                defaults={**fields, "date_read": today - datetime.timedelta(days=3 * days_ago)},
            )
    for reader, arxiv_id, state, reason in READING:
        if reader in users:
            ReadingState.record(
                user=users[reader], paper=papers[arxiv_id], state=state, dropped_reason=reason
            )
    for spec in QUESTIONS:
        author = users.get(spec["author"])
        question, _ = ResearchQuestion.objects.get_or_create(
            question=spec["question"],
            defaults={"created_by": author, "what_would_resolve": spec["what_would_resolve"]},
        )
        for arxiv_id, stance, quote, rationale in spec["links"]:
            question.link_paper(
                papers[arxiv_id], stance=stance, rationale=rationale, quote=quote, by=author
            )
        if spec["conclusion"] or spec["status"] != question.status:
            question.revise_conclusion(spec["conclusion"], by=author, status=spec["status"])
    _attach_demo_pdf(papers["2205.14135"], users.get("bob"))
    _say(stdout, f"Papers: {Paper.objects.count()} papers, {len(QUESTIONS)} research questions.")
