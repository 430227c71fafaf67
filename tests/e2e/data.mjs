// The files the journey imports: a Chinese review CSV as Excel saves it ("CSV UTF-8", with a BOM),
// with one duplicate and one empty row, and a small JSONL for span labeling with an emoji and a
// dialog.

/** 40 distinct reviews. */
export const REVIEWS = [
  '物流很快，第二天就到了，包装也很严实。',
  '客服态度特别好，耐心解答了我所有的问题。',
  '质量一般，用了一周就开始掉漆了。',
  '价格实惠，性价比很高，推荐购买！',
  '快递太慢了，等了整整一个星期。',
  '屏幕显示效果清晰，色彩也很自然。',
  '电池续航不行，半天就没电了😡',
  '和描述的一样，没有色差，很满意。',
  '包装破损，里面的东西也有划痕。',
  '第三次回购了，一如既往的好用👍',
  '尺码偏小，建议买大一号。',
  '物流信息一直不更新，客服也联系不上。',
  '面料舒服，洗了几次也没有起球。',
  '声音太小，开到最大也听不清楚。',
  '给爸妈买的，他们说很好用。',
  '退款流程很麻烦，折腾了好几天。',
  'iPhone 充电线质量不错，充电速度快。',
  '做工粗糙，接缝处有胶水痕迹。',
  '发货速度快，物流也给力。',
  '味道有点奇怪，不太喜欢。',
  '性价比超高，比实体店便宜一半。',
  '说明书全是英文，看不懂怎么用。',
  '颜值很高，放在桌上很好看。',
  '用了一个月就坏了，售后还不给换。',
  '客服回复很及时，问题很快就解决了。',
  '东西还行吧，没有特别惊艳。',
  '孩子很喜欢，每天都要玩。',
  '收到的是二手货，有明显使用痕迹。',
  '安装简单，十分钟就装好了。',
  '物流把箱子压坏了，幸好东西没事。',
  '手感很好，按键反馈清脆。',
  '噪音太大，晚上根本睡不着。',
  '送人的礼物，朋友很喜欢😀',
  '跟图片差距太大，感觉被骗了。',
  'iPhone 手机壳大小刚好，做工精细。',
  '价格有点贵，但质量确实好。',
  '快递员态度恶劣，直接扔在门口。',
  '续航比宣传的还要长，惊喜。',
  '发错了颜色，联系客服换货了。',
  '整体不错，就是物流稍微慢了点。',
];

function csvCell(s) {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The CSV: header `编号,评论内容,日期`; rows 1–40 are the reviews, then a duplicate of review 5
 * (line 42 in the file) and a row with empty text (line 43).
 */
export function reviewsCsv() {
  const lines = ['编号,评论内容,日期'];
  REVIEWS.forEach((text, i) => lines.push([`R${String(i + 1).padStart(3, '0')}`, csvCell(text), `2024-05-${String((i % 28) + 1).padStart(2, '0')}`].join(',')));
  lines.push(['R041', csvCell(REVIEWS[4]), '2024-06-01'].join(','));
  lines.push(['R042', '', '2024-06-02'].join(','));
  return '\uFEFF' + lines.join('\r\n') + '\r\n';
}

export const CSV_EXPECT = { imported: 40, duplicates: 1, rejected: 1, duplicateLine: 42, rejectedLine: 43 };

/** Span records: plain Chinese, Chinese with emoji, a dialog, and one more. */
export const NER_RECORDS = [
  { id: 'n1', text: '张伟在北京的阿里巴巴工作。' },
  { id: 'n2', text: '😀李娜昨天去了上海🎉' },
  {
    id: 'n3',
    turns: [
      { speaker: '用户', text: '我在深圳买的华为手机坏了' },
      { speaker: '客服', text: '您好，请提供订单号，王经理会联系您。' },
    ],
  },
  { id: 'n4', text: '马云创办了阿里巴巴。' },
];

export function nerJsonl() {
  return NER_RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
